import 'reflect-metadata';
import { runApp } from '#vna/http';
import { ApiModule } from './api.module.js';

await runApp('api', (config) => ApiModule.for(config), { docs: true });
