import { startApp } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/config.ts';

describe('start-up configuration', () => {
  it('stops with a message naming each bad variable', async () => {
    const part = startApp('api', {
      PORT: 'eighty',
      API_KEYS: 'shop:short',
      REDIS_URL: 'http://nope',
      RATE_LIMIT_PER_MINUTE: '-1',
      QUEUE_BOARD: 'sometimes',
    });
    const code = await part.exited;
    expect(code).toBe(2);
    const text = part.lines.join('\n');
    expect(text).toMatch(/PORT: must be a port number/);
    expect(text).toMatch(/API_KEYS: .*at least 16 characters/);
    expect(text).toMatch(/REDIS_URL: must start with redis:\/\//);
    expect(text).toMatch(/RATE_LIMIT_PER_MINUTE: must be greater than 0/);
    expect(text).toMatch(/QUEUE_BOARD: must be readonly, on or off/);
  });

  it('QUEUE_BOARD is readonly unless set to on or off', () => {
    const base = { API_KEYS: 'shop:shop-secret-0123456789' };
    expect(loadApiConfig(base).QUEUE_BOARD).toBe('readonly');
    expect(loadApiConfig({ ...base, QUEUE_BOARD: '' }).QUEUE_BOARD).toBe('readonly');
    expect(loadApiConfig({ ...base, QUEUE_BOARD: ' ON ' }).QUEUE_BOARD).toBe('on');
    expect(loadApiConfig({ ...base, QUEUE_BOARD: 'off' }).QUEUE_BOARD).toBe('off');
  });

  it('TRUST_PROXY: none by default, true or addresses; anything else named', () => {
    const base = { API_KEYS: 'shop:shop-secret-0123456789' };
    expect(loadApiConfig(base).TRUST_PROXY).toBe(false);
    expect(loadApiConfig({ ...base, TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadApiConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 192.168.1.5' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '192.168.1.5',
    ]);
    expect(() => loadApiConfig({ ...base, TRUST_PROXY: 'the-balancer' })).toThrow(
      /TRUST_PROXY: must be true or comma-separated IP addresses\/CIDRs/,
    );
  });

  it('BATCH_MAX_PENDING_BYTES_PER_CLIENT: 200 MiB by default, never below BATCH_MAX_BYTES', () => {
    const base = { API_KEYS: 'shop:shop-secret-0123456789' };
    expect(loadApiConfig(base)).toMatchObject({
      BATCH_MAX_PENDING_BYTES_PER_CLIENT: 209_715_200,
      BATCH_UPLOAD_LEASE_MS: 600_000,
    });
    expect(
      loadApiConfig({ ...base, BATCH_MAX_BYTES: '1048576', BATCH_MAX_PENDING_BYTES_PER_CLIENT: '1048576' }),
    ).toMatchObject({ BATCH_MAX_PENDING_BYTES_PER_CLIENT: 1_048_576 });
    expect(() => loadApiConfig({ ...base, BATCH_MAX_PENDING_BYTES_PER_CLIENT: '1048576' })).toThrow(
      /BATCH_MAX_PENDING_BYTES_PER_CLIENT: must be at least BATCH_MAX_BYTES \(104857600\)/,
    );
    expect(() => loadApiConfig({ ...base, BATCH_UPLOAD_LEASE_MS: '0' })).toThrow(
      /BATCH_UPLOAD_LEASE_MS: must be greater than 0/,
    );
  });

  it('requires API_KEYS', async () => {
    const part = startApp('api', { API_KEYS: '' });
    expect(await part.exited).toBe(2);
    expect(part.lines.join('\n')).toMatch(/API_KEYS: is required/);
  });
});
