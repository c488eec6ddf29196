import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from './errors.ts';
import {
  assertTransition,
  isLegalTransition,
  isSettled,
  ORDER_STATES,
  type OrderState,
} from './order-state.ts';

const allowed: Record<OrderState, OrderState[]> = {
  queued: ['processing'],
  processing: ['success', 'failed', 'pending', 'manual_review'],
  pending: ['success', 'failed', 'manual_review', 'processing'],
  success: ['reversed'],
  manual_review: ['success', 'failed'],
  failed: ['success', 'manual_review'],
  reversed: [],
};

describe('order state machine', () => {
  it('allows exactly the transitions of docs/product.md and refuses every other pair', () => {
    for (const from of ORDER_STATES) {
      for (const to of ORDER_STATES) {
        const legal = allowed[from].includes(to);
        expect(isLegalTransition(from, to), `${from} -> ${to}`).toBe(legal);
        if (legal) expect(() => assertTransition(from, to)).not.toThrow();
        else expect(() => assertTransition(from, to)).toThrow(IllegalTransitionError);
      }
    }
  });

  it('calls success, failed and reversed settled and nothing else', () => {
    expect(ORDER_STATES.filter(isSettled)).toEqual(['success', 'failed', 'reversed']);
  });
});
