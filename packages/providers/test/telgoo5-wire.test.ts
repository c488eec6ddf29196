import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRupees } from '@rechargeflow/domain';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createRedisTokenLease,
  createTelgoo5Provider,
  type RechargeProvider,
  type TokenLease,
} from '../src/index.ts';
import { deleteKeys, errorText, expectProviderError, testRedisUrl } from './helpers.ts';

// A hand-written Telgoo5 on loopback: exactly what goes on the wire, and answers the simulator
// never gives (4xx without the envelope, redirects, a login answer without a token, ...).
const PREFIX = `rf:test:telgoo5-wire:${randomUUID()}:`;
const PASSWORD = `wire-pw-${randomUUID()}`;
const PIN = `wire-pin-${randomUUID().slice(0, 6)}`;
const CUSTOMER_TOKEN = `cust_${randomUUID().replace(/-/g, '')}`;

interface Seen {
  socket: object;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

type Responder = (seen: Seen, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let redis: Redis;
let seen: Seen[] = [];
let onAuth: Responder;
let onTopup: Responder;
let tokenSeq = 0;
let keySeq = 0;
const providers: RechargeProvider[] = [];

function nextToken(): string {
  tokenSeq += 1;
  return `wire-token-${tokenSeq}-${randomUUID()}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const ok: Responder = (_s, res) =>
  json(res, 200, { data: {}, msg: 'Success', msg_code: 'RESTAPI000', token: nextToken() });

function provider(tokens: TokenLease, tokenHeader?: string, rechargeKeepAliveMs?: number): RechargeProvider {
  const p = createTelgoo5Provider({
    baseUrl: `${baseUrl}/vcare/`,
    vendorId: 'wire-vendor',
    username: 'wire-user',
    password: PASSWORD,
    pin: PIN,
    agentId: 'wire-agent',
    source: 'TABLET',
    paymentMethod: 'OTHER_PAYMENT_OPTION',
    timeoutMs: 1_000,
    connectTimeoutMs: 500,
    tokens,
    authWaitMs: 500,
    ...(tokenHeader ? { tokenHeader } : {}),
    ...(rechargeKeepAliveMs === undefined ? {} : { rechargeKeepAliveMs }),
  });
  providers.push(p);
  return p;
}

function lease(): TokenLease {
  keySeq += 1;
  return createRedisTokenLease({ redis, key: `${PREFIX}${keySeq}` });
}

const call = () => ({
  providerOrderId: `RFWIRE${randomUUID().slice(0, 8)}`,
  request: {
    operator: 'TELGOO5',
    number: '4524400101',
    amount: parseRupees('12')!,
    telgoo5: {
      enrollmentId: 'AGKN4441',
      planId: '122',
      topupType: 'DATA' as const,
      customerToken: CUSTOMER_TOKEN,
      billingState: 'WA',
      billingCity: 'SEATTLE',
      billingAddress1: '123 MAIN STR',
      billingAddress2: 'APT 3C',
    },
  },
});

beforeAll(async () => {
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => {
      const entry: Seen = {
        socket: req.socket,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(raw || '{}'),
      };
      seen.push(entry);
      if (entry.url.endsWith('/authenticate')) onAuth(entry, res);
      else onTopup(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await deleteKeys(redis, PREFIX);
  await redis.quit();
});

beforeEach(() => {
  seen = [];
  onAuth = ok;
  onTopup = ok;
});

describe('Telgoo5 on the wire', () => {
  it('authenticates with the four credentials, then POSTs add_topup as JSON with the token in the header', async () => {
    const p = provider(lease(), 'X-Auth-Token');
    expect((await p.recharge(call())).status).toBe('success');
    expect(seen).toHaveLength(2);
    const [auth, topup] = seen as [Seen, Seen];
    expect(auth.method).toBe('POST');
    expect(auth.url).toBe('/vcare/authenticate');
    expect(auth.headers['content-type']).toBe('application/json');
    expect(auth.body).toEqual({
      vendor_id: 'wire-vendor',
      username: 'wire-user',
      password: PASSWORD,
      pin: PIN,
    });
    expect(topup.url).toBe('/vcare/topup');
    expect(String(topup.headers['x-auth-token'])).toMatch(/^wire-token-\d+-/);
    expect(topup.headers.token).toBeUndefined();
    expect(topup.body).toEqual({
      action: 'add_topup',
      enrollment_id: 'AGKN4441',
      plan_id: '122',
      customer_token: CUSTOMER_TOKEN,
      billing_state: 'WA',
      billing_city: 'SEATTLE',
      billing_address1: '123 MAIN STR',
      billing_address2: 'APT 3C',
      payment_method: 'OTHER_PAYMENT_OPTION',
      agent_id: 'wire-agent',
      source: 'TABLET',
      topup_type: 'DATA',
      addon_amount: '12',
      mdn: '4524400101',
      multi_topup_enrollment_ids: ['AGKN4441'],
      request_name: 'topup',
      vendor_id: 'wire-vendor',
    });
    // Credentials go to /authenticate only.
    expect(JSON.stringify(topup.body)).not.toContain(PASSWORD);
    expect(JSON.stringify(topup.body)).not.toContain(PIN);
  });

  it('sends each token once: the next send uses the token the previous answer carried', async () => {
    const p = provider(lease());
    const issued: string[] = [];
    onAuth = (_s, res) => {
      const t = nextToken();
      issued.push(t);
      json(res, 200, { msg: 'Success', msg_code: 'RESTAPI000', token: t });
    };
    onTopup = (_s, res) => {
      const t = nextToken();
      issued.push(t);
      json(res, 200, { data: {}, msg: 'Success', msg_code: 'RESTAPI000', token: t });
    };
    for (let i = 0; i < 3; i += 1) await p.recharge(call());
    const sent = seen.filter((s) => s.url.endsWith('/topup')).map((s) => s.headers.token);
    expect(sent).toEqual(issued.slice(0, 3));
    expect(seen.filter((s) => s.url.endsWith('/authenticate'))).toHaveLength(1);
  });

  it('top-ups close their connection unless rechargeKeepAliveMs allows reuse; sign-in always keeps it', async () => {
    const topups = () => seen.filter((s) => s.url.endsWith('/topup')).map((s) => s.headers.connection);
    const fresh = provider(lease());
    for (let i = 0; i < 2; i += 1) await fresh.recharge(call());
    expect(topups()).toEqual(['close', 'close']);
    const signIn = seen.find((s) => s.url.endsWith('/authenticate'));
    expect(signIn?.headers.connection).toBe('keep-alive');
    // Never on the connection the sign-in left idle, nor on each other's.
    const topupSockets = seen.filter((s) => s.url.endsWith('/topup')).map((s) => s.socket);
    expect(new Set([signIn?.socket, ...topupSockets]).size).toBe(3);

    seen = [];
    const reusing = provider(lease(), undefined, 2_000);
    for (let i = 0; i < 2; i += 1) await reusing.recharge(call());
    expect(topups()).toEqual(['keep-alive', 'keep-alive']);
    expect(() => provider(lease(), undefined, 60_001)).toThrow(/rechargeKeepAliveMs/);
  });

  it.each([
    [404, 'Not Found', 'unparseable'],
    [429, '<html><body>Too Many Requests</body></html>', 'html'],
    [400, { msg: 'Success', msg_code: 'RESTAPI000', token: 'tok-from-400-answer' }, 'unexpected_answer'],
    [503, { msg: 'Error occurred', msg_code: 'RESTAPI110', errors: ['x'] }, 'http_status'],
    [200, { msg: 'Success', status: 'ok' }, 'not_envelope'],
  ])('a top-up answered HTTP %i %j is ambiguous (%s)', async (status, body, reason) => {
    const p = provider(lease());
    onTopup = (_s, res) => json(res, status, body);
    await expectProviderError(p.recharge(call()), 'ambiguous', reason, 'telgoo5');
  });

  it('a redirect is never followed and is ambiguous', async () => {
    const p = provider(lease());
    onTopup = (_s, res) => {
      res.writeHead(302, { location: `${baseUrl}/elsewhere` });
      res.end();
    };
    await expectProviderError(p.recharge(call()), 'ambiguous', 'redirect', 'telgoo5');
    expect(seen.filter((s) => s.url === '/elsewhere')).toHaveLength(0);
  });

  it('a refusal answered with HTTP 4xx and the envelope is still a definite refusal', async () => {
    const p = provider(lease());
    onTopup = (_s, res) =>
      json(res, 400, {
        errors: ['Please enter valid MDN'],
        msg: 'Error occurred',
        msg_code: 'RESTAPI110',
        token: nextToken(),
      });
    expect(await p.recharge(call())).toEqual({
      status: 'failed',
      rawStatus: 'RESTAPI110',
      message: 'Error occurred: Please enter valid MDN',
    });
  });

  it.each([
    [500, { msg: 'oops' }, 'auth_unreadable'],
    [200, '<html></html>', 'auth_unreadable'],
    [200, { msg: 'Success', msg_code: 'RESTAPI000' }, 'auth_no_token'],
  ])(
    'an authentication answered %i %j is not_sent (%s): the top-up never left',
    async (status, body, reason) => {
      const p = provider(lease());
      onAuth = (_s, res) => json(res, status, body);
      await expectProviderError(p.recharge(call()), 'not_sent', reason, 'telgoo5');
      expect(seen.filter((s) => s.url.endsWith('/topup'))).toHaveLength(0);
    },
  );

  it('scrubs the password, pin, tokens and payment profile from answers quoted in errors', async () => {
    const p = provider(lease());
    onTopup = (s, res) =>
      json(res, 502, {
        msg: `upstream said ${PASSWORD} ${PIN} ${String(s.headers.token)} ${CUSTOMER_TOKEN} 4524400101`,
        token: nextToken(),
      });
    const error = await expectProviderError(p.recharge(call()), 'ambiguous', 'http_status', 'telgoo5');
    const text = errorText(error);
    for (const secret of [PASSWORD, PIN, CUSTOMER_TOKEN, 'wire-token-', '4524400101']) {
      expect(text).not.toContain(secret);
    }
  });
});
