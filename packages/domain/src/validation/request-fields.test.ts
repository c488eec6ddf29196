import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paise } from '../amount.ts';
import { type RechargeRequest, requestFingerprint } from '../order.ts';
import {
  orderIdIssues,
  RECHARGE_COLUMNS,
  RECHARGE_FIELDS,
  RECHARGE_REQUEST_FIELDS,
  REQUIRED_RECHARGE_FIELDS,
} from './request-fields.ts';
import { TELGOO5_FIELDS } from './telgoo5-fields.ts';

describe('the request fields, defined once', () => {
  it('lists every field, the CSV columns (all but objects) and the required ones, in order', () => {
    expect(RECHARGE_FIELDS).toEqual([
      'orderId',
      'operator',
      'circle',
      'number',
      'amount',
      'value1',
      'value2',
      'telgoo5',
    ]);
    expect(RECHARGE_COLUMNS).toEqual([
      'orderId',
      'operator',
      'circle',
      'number',
      'amount',
      'value1',
      'value2',
    ]);
    expect(REQUIRED_RECHARGE_FIELDS).toEqual(['orderId', 'operator', 'number', 'amount']);
    expect(TELGOO5_FIELDS).toContain('paymentToken');
  });

  it('describes the wire shape: unknown keys refused, the order id by its pattern', () => {
    const ok = { orderId: 'o-1', operator: 'A', number: '9876543210', amount: 10 };
    expect(RECHARGE_REQUEST_FIELDS.safeParse(ok).success).toBe(true);
    expect(RECHARGE_REQUEST_FIELDS.safeParse({ ...ok, cvv: '123' }).success).toBe(false);
    expect(RECHARGE_REQUEST_FIELDS.safeParse({ ...ok, orderId: 'no spaces' }).success).toBe(false);
  });
});

describe('orderIdIssues', () => {
  it('names a missing, a malformed and a card-shaped order id, one reason each', () => {
    expect(orderIdIssues('shop-1.a_b')).toEqual([]);
    for (const missing of [undefined, null, ''])
      expect(orderIdIssues(missing)).toEqual([
        { field: 'orderId', rule: 'required', message: 'is required: your own unique id for this order' },
      ]);
    for (const bad of ['-x', 'a b', 'x'.repeat(65), 12])
      expect(orderIdIssues(bad).map((i) => i.rule)).toEqual(['order_id']);
    expect(orderIdIssues('4111111111111111').map((i) => i.rule)).toEqual(['card_data_refused']);
  });
});

describe('requestFingerprint', () => {
  /** The fingerprint as orders were first stored with it: it must not change for them. */
  const firstForm = (r: RechargeRequest) =>
    createHash('sha256')
      .update(
        JSON.stringify([
          r.operator,
          r.circle ?? null,
          r.number,
          r.amount,
          r.value1 ?? null,
          r.value2 ?? null,
          ...(r.telgoo5 ? [Object.entries(r.telgoo5).sort(([a], [b]) => a.localeCompare(b))] : []),
        ]),
      )
      .digest('hex');

  it('stays what it was for every order stored so far', () => {
    const requests: RechargeRequest[] = [
      { operator: 'A', number: '9876543210', amount: paise(1_000) },
      {
        operator: 'LBS',
        circle: '5',
        number: '2345678',
        amount: paise(50_050),
        value1: '011',
        value2: '1234',
      },
      {
        operator: 'TELGOO5',
        number: '2065550123',
        amount: paise(1_200),
        telgoo5: { enrollmentId: 'AGKN4441', topupType: 'ADDON', billingState: 'WA', billingCity: 'Seattle' },
      },
    ];
    for (const request of requests) expect(requestFingerprint(request)).toBe(firstForm(request));
  });

  it('counts a field added later, only when it is given', () => {
    const request: RechargeRequest = { operator: 'A', number: '9876543210', amount: paise(1_000) };
    const later = (extra: Record<string, unknown>) =>
      requestFingerprint({ ...request, ...extra } as RechargeRequest);
    expect(later({ value3: undefined })).toBe(requestFingerprint(request));
    expect(later({ value3: 'x' })).not.toBe(requestFingerprint(request));
    expect(later({ value3: 'x' })).not.toBe(later({ value3: 'y' }));
  });
});
