export * from './dicomweb.module.js';
export * from './dicomweb.errors.js';
export * from './multipart/index.js';
