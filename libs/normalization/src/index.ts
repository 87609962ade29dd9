export { NormalizationModule, NormalizationCoreModule } from './normalization.module.js';
export { CoercionRulesService, type DryRunRequest, type DryRunResult, type RuleChange } from './coercion-rules.service.js';
export type { StoredCoercionRule, CoercionRuleVersion, InstanceCoercion } from './coercion-rule.repository.js';
export { NormalizationError, type NormalizationErrorKind } from './normalization.errors.js';
