export * from './problem.filter.js';
export * from './http-app.js';
export * from './run-app.js';
export * from './page.dto.js';
