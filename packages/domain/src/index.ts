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
export { type FieldIssue, IllegalTransitionError, RechargeflowError, ValidationError } from './errors.ts';
export {
  type HistoryEntry,
  ID_PATTERN,
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
  AMOUNT_BOUNDS,
  type AmountBounds,
  ANY_OPERATOR_AMOUNT_BOUNDS,
  formatRupeesForPeople,
} from './validation/amount-bounds.ts';
export {
  cardDataIssues,
  cardNumberIssue,
  findCardNumber,
  isCardNumber,
  isRawCardFieldName,
  luhnValid,
  RAW_CARD_FIELDS,
  refuseCardField,
} from './validation/card-numbers.ts';
export { CATEGORY_LABELS } from './validation/category-labels.ts';
export { type ExtraFieldRule, type ExtraFieldRules, extraFieldRules } from './validation/extra-fields.ts';
export { normaliseMobileNumber } from './validation/number-rules.ts';
export {
  type RechargeRequestInput,
  type RechargeValidationResult,
  type ValidateOptions,
  validateRechargeRequest,
} from './validation/validate-recharge.ts';
export {
  normaliseMdn,
  TELGOO5_AMOUNT_BOUNDS,
  TELGOO5_OPERATOR,
  TELGOO5_TOPUP_TYPES,
  validateTelgoo5Request,
} from './validation/validate-telgoo5.ts';
