export { formatRupees, type Paise, paise, parseRupees, toRupeesNumber } from './amount.ts';
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
  requestFingerprint,
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
