import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { a1topupProtocolModule } from './a1topup/module.ts';
import { createProviderRegistry } from './provider-registry.ts';
import {
  PROVIDER_MODULES,
  PROVIDER_NAMES,
  providerCredentialProblems,
  providerLimitsEnvShape,
  providerRegistry,
  providersEnvShape,
} from './registry.ts';

const schema = z.object(providerLimitsEnvShape);
const KEEP_ALIVE = [
  'A1TOPUP_RECHARGE_KEEP_ALIVE_MS',
  'A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS',
  'TELGOO5_RECHARGE_KEEP_ALIVE_MS',
] as const;

describe('recharge keep-alive settings', () => {
  it("default to the provider's when unset or blank: A1Topup 1 s, Telgoo5 0 (no status API: a fresh connection per recharge)", () => {
    for (const env of [{}, Object.fromEntries(KEEP_ALIVE.map((name) => [name, ' ']))]) {
      const parsed = schema.parse(env);
      expect(KEEP_ALIVE.map((name) => parsed[name])).toEqual([1_000, 1_000, 0]);
    }
  });

  it('take whole milliseconds from 0 to 60000, each on its own', () => {
    const parsed = schema.parse({
      A1TOPUP_RECHARGE_KEEP_ALIVE_MS: '2000',
      A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: '60000',
      TELGOO5_RECHARGE_KEEP_ALIVE_MS: '0',
    });
    expect([
      parsed.A1TOPUP_RECHARGE_KEEP_ALIVE_MS,
      parsed.A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS,
      parsed.TELGOO5_RECHARGE_KEEP_ALIVE_MS,
    ]).toEqual([2_000, 60_000, 0]);
  });

  it('refuse other values, naming the variable and the rule', () => {
    const result = schema.safeParse({
      A1TOPUP_RECHARGE_KEEP_ALIVE_MS: '-1',
      A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: '60001',
      TELGOO5_RECHARGE_KEEP_ALIVE_MS: '1.5',
    });
    expect(result.success).toBe(false);
    const issues = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual([
      'A1TOPUP_RECHARGE_KEEP_ALIVE_MS: must be 0 or more',
      'A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: must be at most 60000 (one minute)',
      'TELGOO5_RECHARGE_KEEP_ALIVE_MS: must be a whole number of milliseconds',
    ]);
  });
});

describe('the provider registry', () => {
  it('lists the providers of this build; PROVIDERS takes them, a1topup by default', () => {
    expect(PROVIDER_NAMES).toEqual(['a1topup', 'a1topup_backup', 'telgoo5']);
    const providers = z.object(providersEnvShape).shape.PROVIDERS;
    expect(providers.parse(undefined)).toEqual(['a1topup']);
    expect(providers.parse(' A1Topup , telgoo5 ')).toEqual(['a1topup', 'telgoo5']);
    const wrong = providers.safeParse('a1topup,x');
    expect(wrong.success ? [] : wrong.error.issues.map((i) => i.message)).toEqual([
      'each provider must be one of a1topup, a1topup_backup, telgoo5',
    ]);
  });

  it("keeps every variable name and default of before the registry (A1Topup's recharge keep-alive default is 1 s since issue 16)", () => {
    const parsed = z
      .object(providersEnvShape)
      .parse({ A1TOPUP_USERNAME: 'u', A1TOPUP_PASSWORD: 'p' }) as Record<string, unknown>;
    expect(parsed).toEqual({
      PROVIDERS: ['a1topup'],
      PROVIDER_TIMEOUT_MS: 20_000,
      PROVIDER_CONNECT_TIMEOUT_MS: 5_000,
      PROVIDER_MAX_RESPONSE_BYTES: 65_536,
      A1TOPUP_BASE_URL: 'http://127.0.0.1:4010',
      A1TOPUP_USERNAME: 'u',
      A1TOPUP_PASSWORD: 'p',
      A1TOPUP_FORMAT: 'json',
      A1TOPUP_BACKUP_FORMAT: 'json',
      TELGOO5_BASE_URL: 'http://127.0.0.1:4010/telgoo5',
      TELGOO5_SOURCE: 'API',
      TELGOO5_PAYMENT_METHOD: 'CREDIT_CARD',
      TELGOO5_TOKEN_HEADER: 'token',
    });
    expect(schema.parse({})).toEqual({
      A1TOPUP_CONCURRENCY: 20,
      A1TOPUP_RATE_PER_SECOND: 0,
      A1TOPUP_RECHARGE_KEEP_ALIVE_MS: 1_000,
      A1TOPUP_BACKUP_CONCURRENCY: 20,
      A1TOPUP_BACKUP_RATE_PER_SECOND: 0,
      A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: 1_000,
      TELGOO5_CONCURRENCY: 10,
      TELGOO5_RATE_PER_SECOND: 0,
      TELGOO5_RECHARGE_KEEP_ALIVE_MS: 0,
    });
    // The main A1Topup account is required whatever PROVIDERS says, as it always was.
    const missing = z.object(providersEnvShape).safeParse({ PROVIDERS: 'telgoo5' });
    expect(
      missing.success ? [] : missing.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    ).toEqual([
      'A1TOPUP_USERNAME: is required (the A1Topup account user name)',
      'A1TOPUP_PASSWORD: is required (the A1Topup account password)',
    ]);
  });

  it('names the missing credentials of each provider in use', () => {
    expect(providerCredentialProblems({})).toEqual([
      'A1TOPUP_USERNAME: is required when PROVIDERS includes a1topup',
      'A1TOPUP_PASSWORD: is required when PROVIDERS includes a1topup',
    ]);
    expect(providerCredentialProblems({ PROVIDERS: 'a1topup_backup, telgoo5', TELGOO5_PIN: '1234' })).toEqual(
      [
        'A1TOPUP_BACKUP_BASE_URL: is required when PROVIDERS includes a1topup_backup',
        'A1TOPUP_BACKUP_USERNAME: is required when PROVIDERS includes a1topup_backup',
        'A1TOPUP_BACKUP_PASSWORD: is required when PROVIDERS includes a1topup_backup',
        'TELGOO5_VENDOR_ID: is required when PROVIDERS includes telgoo5',
        'TELGOO5_USERNAME: is required when PROVIDERS includes telgoo5',
        'TELGOO5_PASSWORD: is required when PROVIDERS includes telgoo5',
        'TELGOO5_AGENT_ID: is required when PROVIDERS includes telgoo5',
      ],
    );
  });

  it('reads each provider worker settings', () => {
    const config = {
      PROVIDERS: ['a1topup', 'telgoo5'],
      PROVIDER_TIMEOUT_MS: 20_000,
      PROVIDER_CONNECT_TIMEOUT_MS: 5_000,
      PROVIDER_MAX_RESPONSE_BYTES: 65_536,
      ...schema.parse({ A1TOPUP_CONCURRENCY: '7', TELGOO5_RATE_PER_SECOND: '3' }),
    };
    expect(Object.fromEntries(providerRegistry.workerLimits(config))).toEqual({
      a1topup: { concurrency: 7, ratePerSecond: 0, rechargeKeepAliveMs: 1_000 },
      telgoo5: { concurrency: 10, ratePerSecond: 3, rechargeKeepAliveMs: 0 },
    });
  });

  it('maps each provider callback statuses; a provider without callbacks maps none', () => {
    expect(providerRegistry.callbackModules.map((m) => m.name)).toEqual(['a1topup', 'a1topup_backup']);
    expect(
      ['Success', ' failure ', 'FAILED', 'Pending', 'Refunded'].map((s) =>
        providerRegistry.callbackStatus('a1topup', s),
      ),
    ).toEqual(['success', 'failed', 'failed', 'pending', undefined]);
    expect(providerRegistry.callbackStatus('a1topup_backup', 'Failure')).toBe('failed');
    expect(providerRegistry.callbackStatus('telgoo5', 'Success')).toBeUndefined();
    expect(providerRegistry.callbackStatus('nobody', 'Success')).toBeUndefined();
    expect(providerRegistry.callbackStatusWords('a1topup')).toBe('Success, Failure or Pending');
  });

  it('names the extension telgoo5 owns: operator TELGOO5, field telgoo5', () => {
    expect(providerRegistry.extensions).toEqual([
      { operator: 'TELGOO5', field: 'telgoo5', amountBounds: { min: 100, max: 50_000 }, provider: 'telgoo5' },
    ]);
  });

  it('refuses a registry that contradicts itself', () => {
    const [a1topup] = PROVIDER_MODULES;
    expect(() =>
      createProviderRegistry([...PROVIDER_MODULES, a1topup!], { defaultProvider: 'a1topup' }),
    ).toThrow(/provider "a1topup" is listed twice/);
    const clash = a1topupProtocolModule({
      name: 'second',
      envPrefix: 'A1TOPUP_BACKUP',
      title: 'Clash',
      urlExample: 'https://x.example',
    });
    expect(() =>
      createProviderRegistry([...PROVIDER_MODULES, clash], { defaultProvider: 'a1topup' }),
    ).toThrow(/A1TOPUP_BACKUP_BASE_URL of second is also declared by a1topup_backup/);
    expect(() => createProviderRegistry(PROVIDER_MODULES, { defaultProvider: 'telgoo5' })).toThrow(
      /the default provider "telgoo5" must take catalogue orders/,
    );
  });
});

describe('a third A1Topup-protocol provider is one registry line', () => {
  const registry = createProviderRegistry(
    [
      ...PROVIDER_MODULES,
      a1topupProtocolModule({
        name: 'a1topup_third',
        envPrefix: 'A1TOPUP_THIRD',
        title: 'Third A1Topup-protocol provider',
        urlExample: 'https://third.example',
      }),
    ],
    { defaultProvider: 'a1topup' },
  );

  it('gets its variables, credentials, limits, callbacks and a client', async () => {
    const env = {
      PROVIDERS: 'a1topup,a1topup_third',
      A1TOPUP_USERNAME: 'u',
      A1TOPUP_PASSWORD: 'p',
      A1TOPUP_THIRD_USERNAME: 'third-user',
      A1TOPUP_THIRD_CONCURRENCY: '4',
    };
    expect(registry.credentialProblems(env)).toEqual([
      'A1TOPUP_THIRD_BASE_URL: is required when PROVIDERS includes a1topup_third',
      'A1TOPUP_THIRD_PASSWORD: is required when PROVIDERS includes a1topup_third',
    ]);
    const config = z
      .object({ ...registry.limitsEnvShape, ...registry.envShape })
      .parse({ ...env, A1TOPUP_THIRD_BASE_URL: 'https://third.example/api', A1TOPUP_THIRD_PASSWORD: 'pw' });
    expect(config.PROVIDERS).toEqual(['a1topup', 'a1topup_third']);
    expect(registry.workerLimits(config).get('a1topup_third')).toEqual({
      concurrency: 4,
      ratePerSecond: 0,
      rechargeKeepAliveMs: 1_000,
    });
    expect(registry.worstCaseRechargeTimes(config)).toEqual([
      { provider: 'a1topup', worstCaseMs: 20_000 },
      { provider: 'a1topup_third', worstCaseMs: 20_000 },
    ]);
    expect(registry.callbackModules.map((m) => m.name)).toContain('a1topup_third');
    expect(registry.callbackStatus('a1topup_third', 'Failure')).toBe('failed');
    // A client needs no connection to be built; nothing is sent.
    const redis = new Redis({ lazyConnect: true });
    const clients = registry.createClients(config, redis, 'rf:test');
    try {
      expect([...clients.keys()]).toEqual(['a1topup', 'a1topup_third']);
      expect(clients.get('a1topup_third')?.supports).toEqual({ status: true, balance: true });
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
      redis.disconnect();
    }
  });
});
