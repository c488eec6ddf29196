import { describe, expect, it } from 'vitest';
import type { BatchView, OrderSample, ProviderStatus } from './api-types.ts';
import { waitReason } from './wait-reason.ts';

const clock = (iso: string) => iso.slice(11, 19);
const NOW = Date.parse('2026-01-05T12:02:00Z');

function view(state: string, orders: Record<string, number>, read = 120): BatchView {
  return { batchId: 'b_1', state, rows: { read, accepted: read, rejected: 0 }, orders };
}

const open: ProviderStatus = {
  name: 'a1topup',
  health: 'down',
  breaker: { state: 'open', openedAt: '2026-01-05T12:01:03Z', nextProbeAt: '2026-01-05T12:02:30Z' },
  balance: { amount: 900 },
};
const telgooUp: ProviderStatus = {
  name: 'telgoo5',
  health: 'up',
  breaker: { state: 'closed' },
  balance: null,
};
const waiting: OrderSample = {
  orderId: 'o-1',
  status: 'queued',
  batchId: 'b_1',
  route: ['a1topup'],
  history: [
    { at: '2026-01-05T12:01:05Z', note: null },
    {
      at: '2026-01-05T12:01:06Z',
      note: 'waiting for a provider to take it as RF1: a1topup circuit open; nothing was sent; it stays queued and is tried again until 2026-01-05T12:16:06.000Z (ORDER_MAX_WAIT 15 min), then fails as never sent',
    },
  ],
};

describe('waitReason', () => {
  it('names the counts, the open circuit of the route and how long orders wait', () => {
    expect(
      waitReason({
        view: view('imported', { queued: 120, pending: 0, success: 3 }),
        providers: [open, telgooUp],
        sample: waiting,
        clock,
        now: NOW,
      }),
    ).toBe(
      'waiting: 120 queued, 0 pending; a1topup circuit open since 12:01:03, next trial 12:02:30 (orders wait up to 15 min, until 12:16:06)',
    );
  });

  it('leaves out a trial already due, and providers off the waiting order route', () => {
    const other = { ...open, name: 'telgoo5' };
    const text = waitReason({
      view: view('imported', { queued: 2 }),
      providers: [open, other],
      sample: waiting,
      clock,
      now: Date.parse('2026-01-05T12:05:00Z'),
    });
    expect(text).toContain('a1topup circuit open since 12:01:03 (');
    expect(text).not.toContain('next trial');
    expect(text).not.toContain('telgoo5');
  });

  it('an empty balance and a half-open circuit are troubles too; another note is shown as written', () => {
    const broke: ProviderStatus = { name: 'a1topup', breaker: { state: 'closed' }, balance: { amount: 0 } };
    const note: OrderSample = { ...waiting, history: [{ at: 'x', note: 'sent again after a timeout' }] };
    expect(
      waitReason({ view: view('imported', { queued: 1 }), providers: [broke], sample: note, clock }),
    ).toBe('waiting: 1 queued, 0 pending; a1topup balance 0; order o-1: sent again after a timeout');
    const half: ProviderStatus = { name: 'a1topup', breaker: { state: 'half_open' } };
    expect(waitReason({ view: view('imported', { queued: 1 }), providers: [half], clock })).toContain(
      'a1topup circuit half-open',
    );
  });

  it('with every provider up: says queued orders wait for a worker, pending ones for the provider', () => {
    expect(waitReason({ view: view('imported', { queued: 4 }), providers: [telgooUp] })).toMatch(
      /4 queued, 0 pending; providers are up; .*worker/,
    );
    expect(waitReason({ view: view('imported', { pending: 2, processing: 1 }), providers: [telgooUp] })).toBe(
      "waiting: 0 queued, 2 pending, 1 processing; pending orders wait for the provider's final answer (status checks, callbacks)",
    );
    expect(waitReason({ view: view('imported', { queued: 4 }) })).toContain(
      'provider health could not be read',
    );
  });

  it('before the orders exist: the import has not started or does not move', () => {
    expect(waitReason({ view: view('stored', {}, 0) })).toMatch(/import has not started .*worker/);
    expect(waitReason({ view: view('importing', {}, 40) })).toMatch(/import is at row 40/);
  });
});
