export * from './reconciliation/reconciliation-task.repository.js';
