import 'reflect-metadata';
import { runApp } from '#vna/http';
import { VnaModule } from './vna.module.js';

await runApp('vna', (config) => VnaModule.for(config), { docs: true, cluster: true });
