import { IllegalTransitionError } from './errors.ts';

/** Every state an order can be in (docs/product.md, "States"). */
export const ORDER_STATES = [
  'queued',
  'processing',
  'success',
  'failed',
  'pending',
  'manual_review',
  'reversed',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/** Who caused a transition. */
export const TRANSITION_SOURCES = ['api', 'worker', 'poller', 'callback', 'operator'] as const;
export type TransitionSource = (typeof TRANSITION_SOURCES)[number];

/**
 * The only transitions that exist. Anything not listed is refused by `assertTransition`, and both
 * ledger implementations only apply a transition conditionally on the state they read.
 */
const TRANSITIONS: { readonly [S in OrderState]: readonly OrderState[] } = {
  queued: ['processing'],
  // -> manual_review: the providers' facts contradict each other or the ledger
  // (docs/product.md, "Transitions").
  processing: ['success', 'failed', 'pending', 'manual_review'],
  // -> processing only with a provider switch: a definite refusal of the current attempt reported
  // while the order was pending fails it over like an answer would (the ledger enforces the switch).
  pending: ['success', 'failed', 'manual_review', 'processing'],
  success: ['reversed'],
  manual_review: ['success', 'failed'],
  // The correction path: a charge proven after the order was recorded failed (the provider's
  // status API, or an operator's decision) is booked; one reported but not proven goes to a person.
  failed: ['success', 'manual_review'],
  reversed: [],
};

export function nextStates(from: OrderState): readonly OrderState[] {
  return TRANSITIONS[from];
}

export function isLegalTransition(from: OrderState, to: OrderState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: OrderState, to: OrderState): void {
  if (!isLegalTransition(from, to)) throw new IllegalTransitionError(from, to);
}

/** Final for the worker: nothing more will be sent. `success` can still become `reversed`. */
export function isSettled(state: OrderState): boolean {
  switch (state) {
    case 'success':
    case 'failed':
    case 'reversed':
      return true;
    case 'queued':
    case 'processing':
    case 'pending':
    case 'manual_review':
      return false;
    default:
      return assertNever(state);
  }
}

export function isOrderState(value: unknown): value is OrderState {
  return typeof value === 'string' && (ORDER_STATES as readonly string[]).includes(value);
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
