export * from './blob.store.js';
export * from './azure-blob.store.js';
export * from './blob.module.js';
