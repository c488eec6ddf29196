// The domain's errors, one per file (errors/): this module gathers them for the package's files.
export { ConfigurationError } from './errors/configuration-error.ts';
export { IllegalTransitionError } from './errors/illegal-transition-error.ts';
export { ProviderNotEnabledError } from './errors/provider-not-enabled-error.ts';
export { RechargeflowError } from './errors/rechargeflow-error.ts';
export { type FieldIssue, ValidationError } from './errors/validation-error.ts';
