import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { providerLimitsEnvShape } from './providers-env.ts';

const schema = z.object(providerLimitsEnvShape);
const KEEP_ALIVE = [
  'A1TOPUP_RECHARGE_KEEP_ALIVE_MS',
  'A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS',
  'TELGOO5_RECHARGE_KEEP_ALIVE_MS',
] as const;

describe('recharge keep-alive settings', () => {
  it('default to 0 (a fresh connection per recharge) when unset or blank', () => {
    for (const env of [{}, Object.fromEntries(KEEP_ALIVE.map((name) => [name, ' ']))]) {
      const parsed = schema.parse(env);
      for (const name of KEEP_ALIVE) expect(parsed[name]).toBe(0);
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
