import { startApp } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';

describe('start-up configuration', () => {
  it('stops with a message naming each bad variable', async () => {
    const part = startApp('api', {
      PORT: 'eighty',
      API_KEYS: 'shop:short',
      REDIS_URL: 'http://nope',
      RATE_LIMIT_PER_MINUTE: '-1',
    });
    const code = await part.exited;
    expect(code).toBe(2);
    const text = part.lines.join('\n');
    expect(text).toMatch(/PORT: must be a port number/);
    expect(text).toMatch(/API_KEYS: .*at least 16 characters/);
    expect(text).toMatch(/REDIS_URL: must start with redis:\/\//);
    expect(text).toMatch(/RATE_LIMIT_PER_MINUTE: must be greater than 0/);
  });

  it('requires API_KEYS', async () => {
    const part = startApp('api', { API_KEYS: '' });
    expect(await part.exited).toBe(2);
    expect(part.lines.join('\n')).toMatch(/API_KEYS: is required/);
  });
});
