export { formatRupees, type Paise, paise, parseRupees, toRupeesNumber } from './amount.ts';
export { CIRCLES, type Circle, findCircle, lookupCircle } from './catalogue/circles.ts';
export {
  categoryOf,
  findOperator,
  findOperatorRows,
  OPERATOR_CATEGORIES,
  OPERATORS,
  type Operator,
  type OperatorCategory,
  type OperatorService,
} from './catalogue/operators.ts';
export {
  ConfigurationError,
  type FieldIssue,
  IllegalTransitionError,
  ProviderNotEnabledError,
  RechargeflowError,
  ValidationError,
} from './errors.ts';
export {
  type HistoryEntry,
  maskNumber,
  type Order,
  type OrderKey,
  orderKeyId,
  providerOrderId,
  type RechargeRequest,
  type Reversal,
  requestFingerprint,
  type Telgoo5Order,
} from './order.ts';
export {
  assertNever,
  assertTransition,
  isLegalTransition,
  isOrderState,
  isSettled,
  nextStates,
  ORDER_STATES,
  type OrderState,
  TRANSITION_SOURCES,
  type TransitionSource,
} from './order-state.ts';
export {
  type CallbackStatus,
  type FailureClass,
  type ProviderAnswer,
  type ProviderBalance,
  type ProviderCatalog,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from './provider-contract.ts';
export {
  AMOUNT_BOUNDS,
  type AmountBounds,
  ANY_OPERATOR_AMOUNT_BOUNDS,
  formatRupeesForPeople,
} from './validation/amount-bounds.ts';
export {
  CARD_NUMBER_REMOVED,
  cardDataIssues,
  cardNumberIssue,
  findCardNumber,
  isCardNumber,
  isRawCardFieldName,
  luhnValid,
  maskCardNumbers,
  RAW_CARD_FIELDS,
  refuseCardField,
} from './validation/card-numbers.ts';
export { CATEGORY_LABELS } from './validation/category-labels.ts';
export { type ExtraFieldRule, type ExtraFieldRules, extraFieldRules } from './validation/extra-fields.ts';
export { normaliseMobileNumber } from './validation/number-rules.ts';
export {
  ID_PATTERN,
  orderIdIssues,
  RECHARGE_COLUMNS,
  RECHARGE_FIELDS,
  RECHARGE_REQUEST_FIELDS,
  REQUIRED_RECHARGE_FIELDS,
  type RechargeColumn,
  type RechargeField,
  type RechargeRequestInput,
} from './validation/request-fields.ts';
export {
  TELGOO5_FIELDS,
  TELGOO5_ORDER_FIELDS,
  TELGOO5_TOPUP_TYPES,
  type Telgoo5Field,
} from './validation/telgoo5-fields.ts';
export {
  type RechargeValidationResult,
  type ValidateOptions,
  validateRechargeRequest,
} from './validation/validate-recharge.ts';
export {
  normaliseMdn,
  TELGOO5_AMOUNT_BOUNDS,
  TELGOO5_OPERATOR,
  validateTelgoo5Request,
} from './validation/validate-telgoo5.ts';
