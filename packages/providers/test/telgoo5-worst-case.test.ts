import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRupees } from '@rechargeflow/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelgoo5Provider, type TokenLease, telgoo5WorstCaseRechargeMs } from '../src/index.ts';
import { expectProviderError } from './helpers.ts';

// A real Telgoo5 call under token contention, timed: every sign-in answers just inside the timeout,
// another process takes each token fetched under the sign-in lock, and every top-up is answered
// RESTAPI001. The call signs in twice per try, so it outlasts "one token wait + one sign-in + a
// timeout per try" and stays within worstCaseRechargeMs.
const ANSWER_AFTER_MS = 350;
const timing = { timeoutMs: 400, connectTimeoutMs: 200, authWaitMs: 300, maxTokenRetries: 1 };

let server: Server;
let baseUrl: string;
const paths: string[] = [];

/** A lease whose every token fetched under the sign-in lock is taken at once by another process. */
function contendedLease(): TokenLease {
  const pool: string[] = [];
  let locked = false;
  return {
    async take() {
      return pool.shift() ?? null;
    },
    async put(token) {
      if (!locked) pool.push(token);
    },
    async withAuthLock(fn) {
      locked = true;
      try {
        return await fn();
      } finally {
        locked = false;
      }
    },
    async size() {
      return pool.length;
    },
    async clear() {
      pool.length = 0;
    },
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      const code = req.url?.endsWith('/authenticate') ? 'RESTAPI000' : 'RESTAPI001';
      const body = { data: {}, msg: code === 'RESTAPI000' ? 'Success' : 'Invalid Token', msg_code: code };
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(code === 'RESTAPI000' ? { ...body, token: `t-${randomUUID()}` } : body));
      }, ANSWER_AFTER_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('Telgoo5 worst-case recharge time', () => {
  it('a contended call signs in twice per try and stays within worstCaseRechargeMs', async () => {
    const provider = createTelgoo5Provider({
      baseUrl,
      vendorId: 'v',
      username: 'u',
      password: 'worst-case-pw',
      pin: '9876',
      agentId: 'a',
      tokens: contendedLease(),
      ...timing,
    });
    const started = performance.now();
    await expectProviderError(
      provider.recharge({
        providerOrderId: 'RFWORST1',
        request: {
          operator: 'TELGOO5',
          number: '4524400101',
          amount: parseRupees('12')!,
          telgoo5: {
            enrollmentId: 'AGKN4441',
            planId: '122',
            topupType: 'DATA',
            customerToken: 'cust_worstcase',
            billingState: 'WA',
            billingCity: 'SEATTLE',
          },
        },
      }),
      'not_sent',
      'token_rejected',
      'telgoo5',
    );
    const elapsed = performance.now() - started;
    await provider.close();
    // Per try: a sign-in under the lock (its token taken), the wait over, a sign-in of its own, the top-up.
    expect(paths.map((p) => p.split('/').at(-1))).toEqual([
      'authenticate',
      'authenticate',
      'topup',
      'authenticate',
      'authenticate',
      'topup',
    ]);
    const tries = timing.maxTokenRetries + 1;
    const naive = timing.authWaitMs + timing.timeoutMs + tries * timing.timeoutMs;
    expect(elapsed).toBeGreaterThan(naive);
    expect(elapsed).toBeGreaterThan(6 * ANSWER_AFTER_MS);
    // 2 × (300 + 3 × 400) = 3000 ms.
    expect(elapsed).toBeLessThanOrEqual(telgoo5WorstCaseRechargeMs(timing));
  });
});
