export * from './job-handler.registry.js';
export * from './jobs.module.js';
export * from './outbox.repository.js';
export * from './queue.service.js';
export * from './queues.js';
