export * from './vna-config.js';
export * from './config.module.js';
