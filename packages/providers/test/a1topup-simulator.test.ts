import { randomUUID } from 'node:crypto';
import { parseRupees, type RechargeRequest } from '@rechargeflow/domain';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type A1TopupFormat,
  type A1TopupOptions,
  createA1TopupProvider,
  type RechargeProvider,
} from '../src/index.ts';
import { closedPort, errorText, expectProviderError, seenErrors } from './helpers.ts';

// The client against the real simulator over loopback HTTP.
const USER = 'shop-user';
const PASSWORD = `pw-${randomUUID()}`;
const NUMBER = '9812345678';

let sim: Simulator;
let baseUrl: string;
const providers: RechargeProvider[] = [];
let seq = 0;

function provider(overrides: Partial<A1TopupOptions> = {}): RechargeProvider {
  const p = createA1TopupProvider({
    baseUrl,
    username: USER,
    password: PASSWORD,
    format: 'json',
    timeoutMs: 1_500,
    connectTimeoutMs: 500,
    ...overrides,
  });
  providers.push(p);
  return p;
}

function order(rupees: number | string, extra: Partial<RechargeRequest> = {}) {
  seq += 1;
  const request: RechargeRequest = {
    operator: 'A',
    circle: '5',
    number: NUMBER,
    amount: parseRupees(rupees)!,
    ...extra,
  };
  return { providerOrderId: `RFTEST${seq}X${randomUUID().slice(0, 8)}`, request };
}

beforeAll(async () => {
  sim = createSimulator({
    username: USER,
    password: PASSWORD,
    seed: 11,
    settleAfterMs: 60_000,
    holdMs: 10_000,
  });
  baseUrl = (await sim.listen()).url;
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await sim.close();
});

beforeEach(() => sim.configure({ xmlStyle: 'named' }));

const FORMATS: [A1TopupFormat, 'named' | 'positional'][] = [
  ['csv', 'named'],
  ['json', 'named'],
  ['xml', 'named'],
  ['xml', 'positional'],
];

describe.each(FORMATS)('recharge answers in %s (%s xml)', (format, xmlStyle) => {
  it('Success, Failure and Pending become answers with the provider references', async () => {
    sim.configure({ xmlStyle });
    const client = provider({ format });
    const ok = order(10);
    const success = await client.recharge(ok);
    const simOrder = sim.order(ok.providerOrderId);
    expect(success).toEqual({
      status: 'success',
      rawStatus: 'Success',
      providerTxId: simOrder?.txid,
      providerRef: simOrder?.opid,
      message: undefined,
    });
    const bad = order(13);
    expect(await client.recharge(bad)).toMatchObject({
      status: 'failed',
      rawStatus: 'Failure',
      providerTxId: sim.order(bad.providerOrderId)?.txid,
      message: 'Recharge failed at operator',
    });
    const later = order(17);
    expect(await client.recharge(later)).toMatchObject({ status: 'pending', rawStatus: 'Pending' });
    for (const o of [ok, bad, later]) expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
    expect(sim.order(ok.providerOrderId)?.requests[0]?.url).toBe('/recharge/api');
  });

  it('an oversize answer is abandoned as ambiguous', async () => {
    sim.configure({ xmlStyle });
    const o = order(59);
    await expectProviderError(provider({ format }).recharge(o), 'ambiguous', 'response_too_large');
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
  });
});

describe('answers that are not answers are ambiguous, and the order was still submitted once', () => {
  it.each([
    [37, 'garbage', 'no_status'],
    [41, 'html', 'html'],
    [43, 'empty', 'empty'],
    [47, 'server error', 'http_status'],
  ])('amount %i (%s)', async (rupees, _label, reason) => {
    const o = order(rupees);
    const error = await expectProviderError(provider().recharge(o), 'ambiguous', reason);
    expect(error.message).toMatch(/outcome unknown/);
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
    if (rupees === 47) expect(error.context.httpStatus).toBe(500);
  });

  it('a timeout after the simulator recorded the order: ambiguous within timeoutMs, counted once, settled by status', async () => {
    const client = provider({ timeoutMs: 600 });
    const o = order(31);
    const started = performance.now();
    const error = await expectProviderError(client.recharge(o), 'ambiguous', 'timeout');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(1_600);
    expect(error.context).toMatchObject({ orderid: o.providerOrderId, number: '98******78', amount: '31' });
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
    expect(await client.checkStatus(o.providerOrderId)).toMatchObject({ status: 'success' });
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
  });

  it('a slow answer beyond timeoutMs is ambiguous too', async () => {
    sim.script({ number: '9000000001', behaviour: 'slow', delayMs: 1_500 });
    const o = order(10, { number: '9000000001' });
    await expectProviderError(provider({ timeoutMs: 400 }).recharge(o), 'ambiguous', 'timeout');
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
  });

  it('a connection reset after recording is ambiguous', async () => {
    const o = order(53);
    await expectProviderError(provider({ format: 'csv' }).recharge(o), 'ambiguous', 'connection_reset');
    expect(sim.order(o.providerOrderId)?.submissions).toBe(1);
  });
});

describe('failures that provably happened before sending are not_sent', () => {
  it('connection refused', async () => {
    const client = provider({ baseUrl: `http://127.0.0.1:${await closedPort()}` });
    const error = await expectProviderError(client.recharge(order(10)), 'not_sent', 'connection_refused');
    expect(error.message).toMatch(/not sent, safe to retry/);
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('DNS failure', async () => {
    const client = provider({ baseUrl: 'http://no-such-host.invalid:4010' });
    await expectProviderError(client.recharge(order(10)), 'not_sent', 'dns_failure');
  });

  it('our own validation, before anything reaches the provider', async () => {
    const before = sim.stats().requests.recharge;
    const client = provider();
    const error = await expectProviderError(
      client.recharge(order(10, { operator: 'A;DROP', number: '98 12', value1: 'x\u0000' })),
      'not_sent',
      'invalid_request',
    );
    expect(error.context.fields).toEqual(['operatorcode', 'number', 'value1']);
    await expectProviderError(client.checkStatus('bad id!'), 'not_sent', 'invalid_request');
    expect(sim.stats().requests.recharge).toBe(before);
  });

  it('a closed provider', async () => {
    const client = provider();
    await client.close();
    await expectProviderError(client.recharge(order(10)), 'not_sent', 'closed');
  });
});

describe('status API', () => {
  it('reports success, failure, pending, a reversal and not_found', async () => {
    const client = provider({ format: 'csv' });
    const [ok, bad, later, reversed] = [order(10), order(13), order(17), order(23)];
    for (const o of [ok, bad, later, reversed]) await client.recharge(o);
    expect(await client.checkStatus(ok.providerOrderId)).toMatchObject({
      status: 'success',
      providerRef: sim.order(ok.providerOrderId)?.opid,
    });
    expect(await client.checkStatus(bad.providerOrderId)).toMatchObject({ status: 'failed' });
    expect(await client.checkStatus(later.providerOrderId)).toMatchObject({ status: 'pending' });
    sim.settle(later.providerOrderId);
    expect(await client.checkStatus(later.providerOrderId)).toMatchObject({ status: 'success' });
    expect(await client.checkStatus(reversed.providerOrderId)).toMatchObject({ status: 'success' });
    sim.settle(reversed.providerOrderId);
    expect(await client.checkStatus(reversed.providerOrderId)).toMatchObject({
      status: 'failed',
      message: 'Reversed after dispute',
    });
    for (const format of ['csv', 'json', 'xml'] as const) {
      expect(await provider({ format }).checkStatus('RFNEVERSENT1')).toMatchObject({
        status: 'not_found',
        message: 'No record found',
      });
    }
    expect(sim.order(ok.providerOrderId)?.statusChecks).toBe(1);
  });

  it('a refused status query (wrong password) is ambiguous, never a failure of the order', async () => {
    const o = order(10);
    await provider().recharge(o);
    const wrong = provider({ password: 'wrong-password' });
    await expectProviderError(wrong.checkStatus(o.providerOrderId), 'ambiguous', 'orderid_missing');
  });
});

describe('balance API', () => {
  it('reads the balance in paise from csv, json and xml', async () => {
    await provider().recharge(order('12.34'));
    const expected = sim.stats().balancePaise;
    for (const format of ['csv', 'json', 'xml'] as const) {
      expect(await provider({ format }).getBalance()).toEqual({
        balance: expected,
        rawBalance: sim.stats().balance,
      });
    }
  });

  it('a refused balance request (wrong password) is failed', async () => {
    const error = await expectProviderError(
      provider({ password: 'wrong-password', format: 'xml' }).getBalance(),
      'failed',
      'balance_refused',
    );
    expect(error.message).toMatch(/Invalid username or password/);
  });
});

describe('secrets', () => {
  it('the password never travels in a URL: every request the simulator saw was a bare POST path', () => {
    const requests = sim.requests();
    expect(requests.length).toBeGreaterThan(20);
    for (const r of requests) {
      expect(r.method).toBe('POST');
      expect(r.url).toMatch(/^\/recharge\/(api|status|balance)$/);
      expect(r.url).not.toContain(PASSWORD);
    }
  });

  it('no error message, context, stack or cause holds the password or the full number', () => {
    expect(seenErrors.length).toBeGreaterThan(10);
    for (const error of seenErrors) {
      const text = errorText(error);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(NUMBER);
    }
  });
});
