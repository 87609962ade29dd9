export * from './coercion-rule.js';
export { validateRuleSpec, resolveAttribute } from './rule-validation.js';
export {
  attributeStrings,
  type CoercionResult,
  CoercionRuleSet,
  type CompiledRule,
  compileRule,
  normalizeDate,
  normalizeDateTime,
  normalizePersonName,
  normalizeTime,
} from './coercion-engine.js';
export { reportInvalidValues } from './value-checks.js';
