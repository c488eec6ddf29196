import type { HistoryEntry, Order, OrderState } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import { cleanReason, MAX_REASON_CHARS, orderReason } from './order-reason.ts';

const at = '2026-03-01T10:00:00.000Z';
const NUMBER = '9876543210';

function order(state: OrderState, history: readonly Partial<HistoryEntry>[]): Order {
  return {
    clientId: 'shop',
    orderId: 'o-1',
    providerOrderId: 'RF000000000000000000000001',
    provider: 'a1topup',
    route: ['a1topup'],
    request: { operator: 'A', circle: '5', number: NUMBER, amount: 1_300 } as Order['request'],
    fingerprint: 'f',
    state,
    inFlight: false,
    attempts: 1,
    statusChecks: 0,
    createdAt: at,
    updatedAt: at,
    version: history.length,
    history: [
      { at, from: null, to: 'queued', source: 'api', note: 'order accepted' },
      ...history.map((h) => ({
        at,
        from: 'queued' as const,
        to: 'queued' as const,
        source: 'worker' as const,
        ...h,
      })),
    ],
  };
}

describe('orderReason', () => {
  it('is empty for success', () => {
    expect(
      orderReason(
        order('success', [
          { from: 'queued', to: 'processing' },
          { from: 'processing', to: 'success', note: 'a1topup: Success' },
        ]),
      ),
    ).toBe('');
  });

  it('is the note of the transition into failed, manual_review and reversed, not of later events', () => {
    const failed = order('failed', [
      { from: 'queued', to: 'processing', note: 'sending to a1topup' },
      { from: 'processing', to: 'failed', note: 'a1topup refused: Recharge failed' },
      { from: 'failed', to: 'failed', note: 'callback Failure (17): no change' },
    ]);
    expect(orderReason(failed)).toBe('a1topup refused: Recharge failed');
    const neverSent = order('failed', [
      { from: 'queued', to: 'processing', note: 'no provider can take it: a1topup circuit open' },
      {
        from: 'processing',
        to: 'failed',
        note: 'never sent: no provider could take it (a1topup circuit open)',
      },
    ]);
    expect(orderReason(neverSent)).toBe('never sent: no provider could take it (a1topup circuit open)');
    const review = order('manual_review', [
      { from: 'queued', to: 'processing' },
      { from: 'processing', to: 'pending', note: 'a1topup: Pending' },
      { from: 'pending', to: 'manual_review', note: 'pending for over 24 h: an operator decides' },
    ]);
    expect(orderReason(review)).toBe('pending for over 24 h: an operator decides');
    const reversed = order('reversed', [
      { from: 'processing', to: 'success' },
      {
        from: 'success',
        to: 'reversed',
        note: 'dispute reversal (confirmed by the status API); amount returned to the provider balance',
      },
    ]);
    expect(orderReason(reversed)).toMatch(/^dispute reversal/);
    // The latest move counts: failed, corrected to manual review, decided failed again.
    const again = order('failed', [
      { from: 'processing', to: 'failed', note: 'first' },
      { from: 'failed', to: 'manual_review', note: 'charge reported' },
      {
        from: 'manual_review',
        to: 'failed',
        note: 'operator: not charged, checked with a1topup',
        actor: 'ops',
      },
    ]);
    expect(orderReason(again)).toBe('operator: not charged, checked with a1topup');
    expect(orderReason(order('failed', []))).toBe('failed (no reason was recorded)');
  });

  it('says what a moving order waits for, with its latest note while it waits', () => {
    expect(orderReason(order('queued', []))).toBe('waiting to be sent to a1topup');
    const waiting = order('queued', [
      {
        note: 'waiting for a provider to take it as RF1: a1topup circuit open; nothing was sent; it stays queued',
      },
    ]);
    expect(orderReason(waiting)).toBe(
      'waiting to be sent to a1topup; latest: waiting for a provider to take it as RF1: a1topup circuit open; nothing was sent; it stays queued',
    );
    expect(orderReason(order('pending', [{ from: 'processing', to: 'pending' }]))).toMatch(
      /^sent to a1topup; waiting for its final answer/,
    );
  });

  it('never carries the full number, a card number, line breaks or unbounded text', () => {
    const noisy = order('failed', [
      {
        from: 'processing',
        to: 'failed',
        note: `a1topup refused: number ${NUMBER} (+91 98765 43210, 98765-43210) barred\r\n4111 1111 1111 1111`,
      },
    ]);
    const reason = orderReason(noisy);
    expect(reason).not.toMatch(/9876543210|98765[ -]43210|4111/);
    expect(reason).toContain('98******10');
    expect(reason).toContain('[card number removed]');
    expect(reason).not.toMatch(/[\r\n]/);
    expect(cleanReason('x'.repeat(2_000))).toHaveLength(MAX_REASON_CHARS);
  });
});
