import { describe, expect, it } from 'vitest';
import { LedgerCorruptionError } from '../src/ledger-errors.ts';
import { decodeOrder, decodeRequest, newOrderRecord } from '../src/orders/order-record.ts';

/** The decoder both stores share: what it hands out, and what it refuses to guess at. */

const TELGOO5 = {
  enrollmentId: 'AGKN4441',
  planCode: 'PLAN10',
  topupType: 'ADDON',
  paymentToken: 'tok_9f8e7d6c',
  billingState: 'WA',
  billingCity: 'Seattle',
};
const REQUEST = { operator: 'TELGOO5', number: '2065550123', amount: 2_550, telgoo5: TELGOO5 };

const STORED = {
  clientId: 'shop-1',
  orderId: 'o1',
  providerOrderId: 'RF1',
  provider: 'a1topup',
  request: { operator: 'A', number: '9876543210', amount: 1000 },
  fingerprint: 'f',
  state: 'queued',
  inFlight: false,
  attempts: 0,
  statusChecks: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  version: 1,
  // Storage-only fields are dropped.
  providerOrderIds: ['RF1'],
  listKey: 'x',
};

describe('order records', () => {
  it('reads an order without a route (stored before routes) as routed to its provider', () => {
    expect(decodeOrder(STORED, []).route).toStrictEqual(['a1topup']);
    expect(decodeOrder({ ...STORED, route: null }, []).route).toStrictEqual(['a1topup']);
    const routed = decodeOrder({ ...STORED, provider: 'telgoo5', route: ['a1topup', 'telgoo5'] }, []);
    expect(routed.route).toStrictEqual(['a1topup', 'telgoo5']);
    expect(routed).not.toHaveProperty('providerOrderIds');
  });

  it('refuses a stored route that is not a non-empty list of provider names', () => {
    for (const route of ['a1topup', [], ['a1topup', 7], [''], { 0: 'a1topup' }]) {
      expect(() => decodeOrder({ ...STORED, route }, []), JSON.stringify(route)).toThrow(
        LedgerCorruptionError,
      );
    }
  });

  it('reads a Telgoo5 request back exactly and refuses a malformed one', () => {
    expect(decodeRequest(REQUEST)).toStrictEqual(REQUEST);
    const garbage: unknown[] = [
      { ...REQUEST, telgoo5: 'AGKN4441' },
      { ...REQUEST, telgoo5: { ...TELGOO5, topupType: 'addon' } },
      { ...REQUEST, telgoo5: { ...TELGOO5, enrollmentId: '' } },
      { ...REQUEST, telgoo5: { ...TELGOO5, billingZip: 98104 } },
      { ...REQUEST, telgoo5: { ...TELGOO5, cvv: '123' } },
      { ...REQUEST, amount: '25.50' },
    ];
    for (const request of garbage) {
      expect(() => decodeRequest(request), JSON.stringify(request)).toThrow(LedgerCorruptionError);
    }
  });

  it('prepares a new order: default route, a copy of the request without undefined fields', () => {
    const base = {
      clientId: 'shop-1',
      orderId: 'o1',
      providerOrderId: 'RF1',
      provider: 'telgoo5',
      fingerprint: 'f',
      now: '2026-01-01T00:00:00.000Z',
    };
    const request = { ...REQUEST, circle: undefined, value1: null };
    const record = newOrderRecord({ ...base, request: request as never });
    expect(record).toStrictEqual({ request: REQUEST, route: ['telgoo5'] });
    // The fingerprint counts a Telgoo5 key set to undefined: it could not be read back as it was.
    expect(() =>
      newOrderRecord({
        ...base,
        request: { ...REQUEST, telgoo5: { ...TELGOO5, planId: undefined } } as never,
      }),
    ).toThrow(RangeError);
    expect(() => newOrderRecord({ ...base, request: REQUEST as never, route: ['a1topup'] })).toThrow(
      RangeError,
    );
    expect(() =>
      newOrderRecord({
        ...base,
        request: { ...REQUEST, telgoo5: { ...TELGOO5, cardNumber: '4111' } } as never,
      }),
    ).toThrow(RangeError);
  });
});
