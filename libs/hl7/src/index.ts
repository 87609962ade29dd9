export * from './hl7-message.js';
export * from './hl7-handler.js';
