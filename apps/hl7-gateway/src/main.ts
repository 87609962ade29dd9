import 'reflect-metadata';
import { runApp } from '#vna/http';
import { Hl7GatewayModule } from './hl7-gateway.module.js';

await runApp('hl7-gateway', (config) => Hl7GatewayModule.for(config), { docs: false, cluster: true });
