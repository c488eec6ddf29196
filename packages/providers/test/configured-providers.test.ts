import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRupees } from '@rechargeflow/domain';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfiguredProviders, type ProvidersConfig, type RechargeProvider } from '../src/index.ts';
import { deleteKeys, testRedisUrl } from './helpers.ts';

// Each provider's recharge keep-alive setting reaches that provider and no other: one loopback server
// plays A1Topup (/main), the backup (/backup) and Telgoo5 (/tg), and records each recharge's
// Connection header by provider.
const PREFIX = `rf:test:configured:${randomUUID()}`;
let server: Server;
let url = '';
let redis: Redis;
let headers: Record<string, (string | undefined)[]> = {};

beforeAll(async () => {
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => {
      const [, provider, ...rest] = (req.url ?? '').split('/');
      const path = `/${rest.join('/')}`;
      if (path === '/authenticate') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ msg: 'Success', msg_code: 'RESTAPI000', token: `t-${randomUUID()}` }));
        return;
      }
      const key = provider ?? '';
      headers[key] = [...(headers[key] ?? []), req.headers.connection];
      if (path === '/topup') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ data: {}, msg: 'Success', msg_code: 'RESTAPI000', token: `t-${randomUUID()}` }),
        );
        return;
      }
      const form = new URLSearchParams(raw);
      res.end(`9,Success,OP9,${form.get('number')},${form.get('amount')},${form.get('orderid')}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await deleteKeys(redis, PREFIX);
  await redis.quit();
});

function config(keepAlive: { a1: number; backup: number; telgoo5: number }): ProvidersConfig {
  return {
    PROVIDERS: ['a1topup', 'a1topup_backup', 'telgoo5'],
    PROVIDER_TIMEOUT_MS: 2_000,
    PROVIDER_CONNECT_TIMEOUT_MS: 1_000,
    PROVIDER_MAX_RESPONSE_BYTES: 65_536,
    A1TOPUP_BASE_URL: `${url}/main`,
    A1TOPUP_USERNAME: 'main-user',
    A1TOPUP_PASSWORD: 'main-pw',
    A1TOPUP_FORMAT: 'csv',
    A1TOPUP_BACKUP_BASE_URL: `${url}/backup`,
    A1TOPUP_BACKUP_USERNAME: 'backup-user',
    A1TOPUP_BACKUP_PASSWORD: 'backup-pw',
    A1TOPUP_BACKUP_FORMAT: 'csv',
    TELGOO5_BASE_URL: `${url}/tg`,
    TELGOO5_VENDOR_ID: 'v',
    TELGOO5_USERNAME: 'u',
    TELGOO5_PASSWORD: 'p',
    TELGOO5_PIN: '1234',
    TELGOO5_AGENT_ID: 'a',
    TELGOO5_SOURCE: 'API',
    TELGOO5_PAYMENT_METHOD: 'CREDIT_CARD',
    TELGOO5_TOKEN_HEADER: 'token',
    A1TOPUP_RECHARGE_KEEP_ALIVE_MS: keepAlive.a1,
    A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: keepAlive.backup,
    TELGOO5_RECHARGE_KEEP_ALIVE_MS: keepAlive.telgoo5,
  };
}

const a1Call = (id: string) => ({
  providerOrderId: id,
  request: { operator: 'V', circle: '5', number: '9812345678', amount: parseRupees('10')! },
});
const telgoo5Call = (id: string) => ({
  providerOrderId: id,
  request: {
    operator: 'TELGOO5',
    number: '4524400101',
    amount: parseRupees('12')!,
    telgoo5: {
      enrollmentId: 'AGKN4441',
      planId: '122',
      topupType: 'DATA' as const,
      customerToken: 'cust_x',
      billingState: 'WA',
      billingCity: 'SEATTLE',
      billingAddress1: '123 MAIN STR',
    },
  },
});

/** Two recharges through each configured provider; the Connection headers each one sent. */
async function connectionHeaders(keepAlive: { a1: number; backup: number; telgoo5: number }) {
  headers = {};
  const providers = createConfiguredProviders(config(keepAlive), redis, `${PREFIX}:${randomUUID()}`);
  const get = (name: string): RechargeProvider => {
    const p = providers.get(name);
    if (!p) throw new Error(`no provider ${name}`);
    return p;
  };
  try {
    for (let i = 0; i < 2; i++) {
      expect((await get('a1topup').recharge(a1Call(`RFA${i}`))).status).toBe('success');
      expect((await get('a1topup_backup').recharge(a1Call(`RFB${i}`))).status).toBe('success');
      expect((await get('telgoo5').recharge(telgoo5Call(`RFT${i}`))).status).toBe('success');
    }
  } finally {
    await Promise.all([...providers.values()].map((p) => p.close()));
  }
  return headers;
}

describe('recharge keep-alive from configuration', () => {
  it('each provider gets its own setting', async () => {
    // Every pair of providers differs in one of the two rounds, so a setting wired to the wrong
    // provider shows.
    expect(await connectionHeaders({ a1: 0, backup: 3_000, telgoo5: 3_000 })).toEqual({
      main: ['close', 'close'],
      backup: ['keep-alive', 'keep-alive'],
      tg: ['keep-alive', 'keep-alive'],
    });
    expect(await connectionHeaders({ a1: 3_000, backup: 0, telgoo5: 3_000 })).toEqual({
      main: ['keep-alive', 'keep-alive'],
      backup: ['close', 'close'],
      tg: ['keep-alive', 'keep-alive'],
    });
  });
});
