export * from './data-source.js';
export * from './persistence.module.js';
export { MIGRATIONS } from './migrations/index.js';
export * from './sql-transaction.js';
