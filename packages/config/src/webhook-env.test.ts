import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configuredSecrets } from './secrets.ts';
import { MAX_WEBHOOK_RETRY_FOR_MS, webhookEnvShape } from './webhook-env.ts';

const schema = z.object(webhookEnvShape);

describe('webhook variables', () => {
  it('default to off, 24 h of retries from 10 s, a 10 s timeout, 10 at once, 10 endpoints', () => {
    expect(schema.parse({})).toEqual({
      WEBHOOK_SIGNING_SECRET: undefined,
      WEBHOOK_ALLOW_PRIVATE: false,
      WEBHOOK_RETRY_FOR: 86_400_000,
      WEBHOOK_RETRY_FIRST_MS: 10_000,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_CONCURRENCY: 10,
      WEBHOOK_MAX_ENDPOINTS_PER_CLIENT: 10,
    });
  });

  it('read durations with units, the switch as true/on, and refuse a short signing secret', () => {
    const parsed = schema.parse({
      WEBHOOK_RETRY_FOR: '90m',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_SIGNING_SECRET: 's'.repeat(32),
    });
    expect(parsed.WEBHOOK_RETRY_FOR).toBe(5_400_000);
    expect(parsed.WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(schema.parse({ WEBHOOK_RETRY_FOR: '1500ms' }).WEBHOOK_RETRY_FOR).toBe(1_500);
    const short = schema.safeParse({ WEBHOOK_SIGNING_SECRET: 'too-short' });
    expect(short.success).toBe(false);
    expect(short.error?.issues[0]?.path).toEqual(['WEBHOOK_SIGNING_SECRET']);
    expect(schema.safeParse({ WEBHOOK_RETRY_FOR: 'a day' }).success).toBe(false);
  });

  it('caps WEBHOOK_RETRY_FOR at 7 days, below the 30 days a delivery is kept', () => {
    expect(schema.parse({ WEBHOOK_RETRY_FOR: '7d' }).WEBHOOK_RETRY_FOR).toBe(MAX_WEBHOOK_RETRY_FOR_MS);
    for (const tooLong of ['8d', '169h', '30d', '45d']) {
      const parsed = schema.safeParse({ WEBHOOK_RETRY_FOR: tooLong });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(['WEBHOOK_RETRY_FOR']);
      expect(parsed.error?.issues[0]?.message).toMatch(/must be at most 7d/);
    }
  });

  it('WEBHOOK_SIGNING_SECRET is among the secrets every logger cuts out, by its name', () => {
    const key = 'wh-signing-key-0123456789abcdefghijkl';
    expect(configuredSecrets({ WEBHOOK_SIGNING_SECRET: key })).toEqual([key]);
  });
});
