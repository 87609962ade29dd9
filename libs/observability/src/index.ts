export * from './metrics.service.js';
export * from './observability.module.js';
export * from './cluster-metrics.js';
export * from './health-details.js';
