import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { type FailureClass, ProviderError } from '../src/index.ts';

/** A port that was free a moment ago: nothing listens there, so a connect is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Every error a test saw, so a final check can prove no secret leaked into any of them. */
export const seenErrors: unknown[] = [];

export async function expectProviderError(
  promise: Promise<unknown>,
  failureClass: FailureClass,
  reason?: string,
  provider = 'a1topup',
): Promise<ProviderError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  seenErrors.push(caught);
  expect(caught, 'expected a ProviderError').toBeInstanceOf(ProviderError);
  const error = caught as ProviderError;
  expect({ failureClass: error.failureClass, reason: error.context.reason }).toEqual({
    failureClass,
    reason: reason ?? error.context.reason,
  });
  expect(error.retryable).toBe(failureClass === 'not_sent');
  expect(error.provider).toBe(provider);
  return error;
}

/** Everything an error exposes: message, context, stack, and the same for its causes. */
export function errorText(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 5) return String(error);
  const context = error instanceof ProviderError ? JSON.stringify(error.context) : '';
  return [error.message, context, error.stack ?? '', errorText(error.cause, depth + 1)].join('\n');
}

/** A Redis for integration tests (REDIS_URL or the local default) and a key prefix only this file uses. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
