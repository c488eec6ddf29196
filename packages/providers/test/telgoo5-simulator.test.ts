import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRupees, RAW_CARD_FIELDS, type RechargeRequest, type Telgoo5Order } from '@rechargeflow/domain';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createRedisTokenLease,
  createTelgoo5Provider,
  type RechargeProvider,
  type RedisTokenLeaseOptions,
  type Telgoo5Options,
  type TokenLease,
} from '../src/index.ts';
import {
  closedPort,
  deleteKeys,
  errorText,
  expectProviderError,
  seenErrors,
  testRedisUrl,
} from './helpers.ts';

// The Telgoo5 client against the real simulator over loopback HTTP, its token pool in the real Redis.
const PREFIX = `rf:test:telgoo5-sim:${randomUUID()}:`;
const VENDOR = 'rf-vendor';
const USER = 'rf-user';
const PASSWORD = `pw-${randomUUID()}`;
const PIN = `pin-${randomUUID().slice(0, 8)}`;
const AGENT = 'rf-agent';
const PAYMENT_TOKEN = `pay_${randomUUID().replace(/-/g, '')}`;

let sim: Simulator;
let baseUrl: string;
const connections: Redis[] = [];
const providers: RechargeProvider[] = [];
let keySeq = 0;
let mdnSeq = 0;
let orderSeq = 0;

function connect(): Redis {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  connections.push(redis);
  return redis;
}

function newLease(key: string, options: Partial<RedisTokenLeaseOptions> = {}, redis = connect()): TokenLease {
  return createRedisTokenLease({ redis, key, ...options });
}

function freshKey(): string {
  keySeq += 1;
  return `${PREFIX}pool${keySeq}`;
}

function client(tokens: TokenLease, overrides: Partial<Telgoo5Options> = {}): RechargeProvider {
  const p = createTelgoo5Provider({
    baseUrl: `${baseUrl}/telgoo5`,
    vendorId: VENDOR,
    username: USER,
    password: PASSWORD,
    pin: PIN,
    agentId: AGENT,
    timeoutMs: 1_500,
    connectTimeoutMs: 500,
    tokens,
    ...overrides,
  });
  providers.push(p);
  return p;
}

/** A fresh MDN per call unless given, so per-MDN counts belong to one test. */
function nextMdn(): string {
  mdnSeq += 1;
  return `206555${String(mdnSeq).padStart(4, '0')}`;
}

function order(dollars: number | string, mdn = nextMdn(), extra: Partial<Telgoo5Order> = {}) {
  orderSeq += 1;
  const telgoo5: Telgoo5Order = {
    enrollmentId: 'AGKN4441',
    planCode: '12',
    topupType: 'ADDON',
    paymentToken: PAYMENT_TOKEN,
    billingState: 'WA',
    billingCity: 'Seattle',
    billingZip: '98104',
    ...extra,
  };
  const request: RechargeRequest = {
    operator: 'TELGOO5',
    number: mdn,
    amount: parseRupees(dollars)!,
    telgoo5,
  };
  return { providerOrderId: `RFT5${orderSeq}X${randomUUID().slice(0, 8)}`, request, mdn };
}

const t5 = () => sim.telgoo5.stats();
const applied = (mdn: string) => sim.telgoo5.topups(mdn).length;

beforeAll(async () => {
  sim = createSimulator({
    seed: 5,
    holdMs: 10_000,
    telgoo5: { vendorId: VENDOR, username: USER, password: PASSWORD, pin: PIN, agentIds: [AGENT] },
  });
  baseUrl = (await sim.listen()).url;
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await sim.close();
  const cleaner = connect();
  await deleteKeys(cleaner, PREFIX);
  await Promise.all(connections.map((c) => c.quit()));
});

beforeEach(() => {
  sim.reset();
  sim.configure({ telgoo5TokenTtlMs: 15 * 60_000, telgoo5DocumentBodies: false });
});

describe('Telgoo5 client against the simulator', () => {
  it('tops up once: authenticates, sends the saved payment profile (no card field), keeps the next token', async () => {
    const tokens = newLease(freshKey());
    const p = client(tokens);
    expect(p.name).toBe('telgoo5');
    expect(p.supports).toEqual({ status: false, balance: false });
    const call = order('12.50');
    const answer = await p.recharge(call);
    expect(answer).toEqual({ status: 'success', rawStatus: 'RESTAPI000', message: 'Success' });
    expect(sim.telgoo5.topups(call.mdn)).toEqual([
      expect.objectContaining({
        mdn: call.mdn,
        enrollmentId: 'AGKN4441',
        amount: '12.50',
        planCode: '12',
        topupType: 'ADDON',
        paymentMethod: 'CREDIT_CARD',
        source: 'API',
        agentId: AGENT,
      }),
    ]);
    expect(t5()).toMatchObject({ authentications: 1, topupsApplied: 1, cardFieldViolations: 0 });
    const topup = sim.telgoo5.requests().find((r) => r.endpoint === 'topup');
    expect(topup?.tokenSent).toBe(true);
    expect(topup?.fields).toEqual(
      [
        'action',
        'addon_amount',
        'agent_id',
        'billing_city',
        'billing_state',
        'billing_zip',
        'enrollment_id',
        'mdn',
        'multi_topup_enrollment_ids',
        'payment_method',
        'payment_token',
        'plan_code',
        'request_name',
        'source',
        'topup_type',
        'vendor_id',
      ].sort(),
    );
    for (const field of RAW_CARD_FIELDS) expect(topup?.fields).not.toContain(field);
    expect(await tokens.size()).toBe(1);
  });

  it('rotates tokens over 10 sequential top-ups with exactly one authentication', async () => {
    const p = client(newLease(freshKey()));
    const mdn = nextMdn();
    for (let i = 0; i < 10; i += 1) {
      expect((await p.recharge(order(10, mdn))).status).toBe('success');
    }
    expect(applied(mdn)).toBe(10);
    expect(t5()).toMatchObject({
      authentications: 1,
      topupsApplied: 10,
      tokenRejections: { invalid: 0, used: 0, expired: 0, access: 0 },
      tokensIssued: 11,
    });
  });

  it('40 concurrent top-ups from 3 clients sharing one Redis pool: each applied once, no token reused', async () => {
    const key = freshKey();
    const clients = [0, 1, 2].map(() => client(newLease(key), { timeoutMs: 5_000 }));
    const calls = Array.from({ length: 40 }, () => order(10));
    const answers = await Promise.all(calls.map((c, i) => clients[i % 3]!.recharge(c)));
    expect(answers.every((a) => a.status === 'success')).toBe(true);
    for (const c of calls) expect(applied(c.mdn)).toBe(1);
    const stats = t5();
    expect(stats.topupsApplied).toBe(40);
    expect(stats.tokenRejections).toEqual({ invalid: 0, used: 0, expired: 0, access: 0 });
    expect(stats.authentications).toBeGreaterThanOrEqual(1);
    expect(stats.authentications).toBeLessThanOrEqual(40);
    // The pool now holds one next token per send in flight at the peak: later waves need no login.
    const before = stats.authentications;
    const again = Array.from({ length: 10 }, () => order(10));
    for (const c of again) expect((await clients[0]!.recharge(c)).status).toBe('success');
    expect(t5().authentications).toBe(before);
    expect(t5().cardFieldViolations).toBe(0);
  });

  it('never sends a token past its JWT exp: it authenticates again instead (short TTL)', async () => {
    sim.configure({ telgoo5TokenTtlMs: 1_200 });
    // The lease is not told the short TTL: the JWT exp claim alone must keep the token from going out.
    const tokens = newLease(freshKey(), { safetyMarginMs: 100 });
    const p = client(tokens);
    expect((await p.recharge(order(10))).status).toBe('success');
    expect(await tokens.size()).toBeLessThanOrEqual(1);
    await sleep(1_300);
    expect(await tokens.size()).toBe(0);
    expect((await p.recharge(order(10))).status).toBe('success');
    expect(t5()).toMatchObject({
      authentications: 2,
      topupsApplied: 2,
      tokenRejections: { invalid: 0, used: 0, expired: 0, access: 0 },
    });
  });

  it.each(['invalid', 'used', 'expired'] as const)(
    'after RESTAPI001 (%s) it retries with the fresh token and the top-up is applied once',
    async (as) => {
      const tokens = newLease(freshKey());
      const p = client(tokens);
      await p.recharge(order(10));
      expect(sim.telgoo5.invalidateTokens(as)).toBe(1);
      const call = order(10);
      expect((await p.recharge(call)).status).toBe('success');
      expect(applied(call.mdn)).toBe(1);
      const stats = t5();
      expect(stats.tokenRejections[as]).toBe(1);
      // The RESTAPI001 answer carried the next token: no second login was needed.
      expect(stats.authentications).toBe(1);
    },
  );

  it('gives up after maxTokenRetries token refusals: not sent, nothing applied', async () => {
    const p = client(newLease(freshKey()), { maxTokenRetries: 2 });
    const call = order(10);
    sim.telgoo5.script({ mdn: call.mdn, behaviour: 'token_rejected', times: 3 });
    const error = await expectProviderError(p.recharge(call), 'not_sent', 'token_rejected', 'telgoo5');
    expect(error.message).toMatch(/Invalid Token/);
    expect(error.context.tries).toBe(3);
    expect(applied(call.mdn)).toBe(0);
    expect(t5().topupRequests).toBe(3);
    // One refusal fewer than the tries: the last try goes through.
    const next = order(10);
    sim.telgoo5.script({ mdn: next.mdn, behaviour: 'token_rejected', times: 2 });
    expect((await p.recharge(next)).status).toBe('success');
    expect(applied(next.mdn)).toBe(1);
  });

  describe.each([false, true])('refusals (document-style bodies: %s)', (documentBodies) => {
    beforeEach(() => sim.configure({ telgoo5DocumentBodies: documentBodies }));

    it('RESTAPI110 (magic 13) is a failed answer with msg and errors; nothing applied', async () => {
      const p = client(newLease(freshKey()));
      const call = order(13);
      const answer = await p.recharge(call);
      expect(answer).toEqual({
        status: 'failed',
        rawStatus: 'RESTAPI110',
        message: 'Error occurred: Payment declined for the saved payment profile',
      });
      expect(applied(call.mdn)).toBe(0);
      // The refusal carried the next token, which went back into the pool.
      expect((await p.recharge(order(10))).status).toBe('success');
      expect(t5().authentications).toBe(1);
    });

    it('RESTAPI104 for an unknown agent and RESTAPI103 for a source the account does not allow', async () => {
      const wrongAgent = client(newLease(freshKey()), { agentId: 'someone-else' });
      expect(await wrongAgent.recharge(order(10))).toEqual({
        status: 'failed',
        rawStatus: 'RESTAPI104',
        message: 'Invalid Agent Id',
      });
      const strict = createSimulator({
        seed: 1,
        telgoo5DocumentBodies: documentBodies,
        telgoo5: {
          vendorId: VENDOR,
          username: USER,
          password: PASSWORD,
          pin: PIN,
          agentIds: [AGENT],
          sources: ['WEBSITE'],
        },
      });
      const { url } = await strict.listen();
      try {
        const p = client(newLease(freshKey()), { baseUrl: `${url}/telgoo5`, source: 'API' });
        expect(await p.recharge(order(10))).toEqual({
          status: 'failed',
          rawStatus: 'RESTAPI103',
          message: 'Source Not Allowed',
        });
        expect(strict.telgoo5.stats().topupsApplied).toBe(0);
      } finally {
        await strict.close();
      }
      expect(t5().topupsApplied).toBe(0);
    });

    it('wrong credentials: authentication refused, failed, no top-up sent, no credential in the error', async () => {
      const p = client(newLease(freshKey()), { password: `${PASSWORD}-wrong`, pin: `${PIN}-wrong` });
      const error = await expectProviderError(p.recharge(order(10)), 'failed', 'auth_refused', 'telgoo5');
      expect(error.message).toMatch(/RESTAPI104 Invalid Agent ID or Password/);
      expect(errorText(error)).not.toContain(PASSWORD);
      expect(errorText(error)).not.toContain(PIN);
      expect(t5()).toMatchObject({ authFailures: 1, topupRequests: 0 });
    });
  });

  describe('faults after the top-up was applied are ambiguous, and it is applied exactly once', () => {
    it.each([
      [31, 'timeout'],
      [37, 'unparseable'],
      [41, 'html'],
      [43, 'empty'],
      [47, 'http_status'],
      [53, 'connection_reset'],
      [59, 'response_too_large'],
      [67, 'unknown_code'],
    ])('magic amount %i -> ambiguous (%s)', async (dollars, reason) => {
      const p = client(newLease(freshKey()), { timeoutMs: 800, maxResponseBytes: 4_096 });
      const call = order(dollars);
      const error = await expectProviderError(p.recharge(call), 'ambiguous', reason, 'telgoo5');
      expect(error.message).toMatch(/a person must check it/);
      expect(applied(call.mdn)).toBe(1);
      await sleep(20);
      expect(applied(call.mdn)).toBe(1);
      // Never retried: one top-up request reached the simulator.
      expect(t5().topupRequests).toBe(1);
    });

    it('a lost answer loses its next token too; the client simply authenticates again', async () => {
      const p = client(newLease(freshKey()));
      await expectProviderError(p.recharge(order(47)), 'ambiguous', 'http_status', 'telgoo5');
      expect((await p.recharge(order(10))).status).toBe('success');
      expect(t5()).toMatchObject({
        authentications: 2,
        tokenRejections: { invalid: 0, used: 0, expired: 0, access: 0 },
      });
    });
  });

  describe('not sent', () => {
    it('connection refused while authenticating, or while sending the top-up, is not_sent', async () => {
      const port = await closedPort();
      const tokens = newLease(freshKey());
      const p = client(tokens, { baseUrl: `http://127.0.0.1:${port}/telgoo5`, authWaitMs: 200 });
      await expectProviderError(p.recharge(order(10)), 'not_sent', 'auth_connection_refused', 'telgoo5');
      await tokens.put(`opaque-token-${randomUUID()}`);
      await expectProviderError(p.recharge(order(10)), 'not_sent', 'connection_refused', 'telgoo5');
    });

    it('refuses a call it cannot send (no Telgoo5 details, bad MDN, card data smuggled in) before sending', async () => {
      const p = client(newLease(freshKey()));
      const noDetails = {
        providerOrderId: 'RFT5BAD1',
        request: { operator: 'TELGOO5', number: '2065550100', amount: parseRupees(10)! },
      };
      await expectProviderError(p.recharge(noDetails), 'not_sent', 'invalid_request', 'telgoo5');
      await expectProviderError(
        p.recharge({ ...order(10), request: { ...order(10).request, number: '12345' } }),
        'not_sent',
        'invalid_request',
        'telgoo5',
      );
      const smuggled = order(10);
      const withCard = {
        ...smuggled,
        request: {
          ...smuggled.request,
          telgoo5: {
            ...smuggled.request.telgoo5!,
            card_number: '4111111111111111',
            cvv: '123',
          } as Telgoo5Order,
        },
      };
      const error = await expectProviderError(p.recharge(withCard), 'not_sent', 'invalid_request', 'telgoo5');
      expect(error.context.fields).toEqual(['telgoo5.card_number', 'telgoo5.cvv']);
      expect(errorText(error)).not.toContain('4111111111111111');
      expect(t5()).toMatchObject({ topupRequests: 0, authentications: 0, cardFieldViolations: 0 });
    });

    it('has no status or balance API', async () => {
      const p = client(newLease(freshKey()));
      await expectProviderError(p.checkStatus('RFT5X'), 'failed', 'unsupported', 'telgoo5');
      await expectProviderError(p.getBalance(), 'failed', 'unsupported', 'telgoo5');
    });

    it('a closed client sends nothing', async () => {
      const p = client(newLease(freshKey()));
      await p.close();
      await expectProviderError(p.recharge(order(10)), 'not_sent', 'closed', 'telgoo5');
      expect(t5().topupRequests).toBe(0);
    });
  });

  it('no password, pin, token, payment token or full MDN in any error message, context or stack', () => {
    expect(seenErrors.length).toBeGreaterThan(15);
    for (const error of seenErrors) {
      const text = errorText(error);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(PIN);
      expect(text).not.toContain(PAYMENT_TOKEN);
      expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
      expect(text).not.toMatch(/opaque-token-/);
      expect(text).not.toMatch(/206555\d{4}/);
    }
  });
});
