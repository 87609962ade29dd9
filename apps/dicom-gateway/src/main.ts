import 'reflect-metadata';
import { runApp } from '#vna/http';
import { DicomGatewayModule } from './dicom-gateway.module.js';

await runApp('dicom-gateway', (config) => DicomGatewayModule.for(config), { docs: false, cluster: true });
