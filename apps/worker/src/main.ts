import 'reflect-metadata';
import { runApp } from '#vna/http';
import { WorkerModule } from './worker.module.js';

await runApp('worker', (config) => WorkerModule.for(config), { docs: false });
