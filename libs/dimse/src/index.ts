export * from './dimse.module.js';
export * from './dicom-node.service.js';
export * from './dimse.server.js';
