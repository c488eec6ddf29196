import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiKeys, hashedApiKeyEntry, sha256Hex } from './api-keys.ts';

const parse = (text: string) => z.object({ API_KEYS: apiKeys() }).safeParse({ API_KEYS: text });
const messages = (text: string) => {
  const result = parse(text);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
};

describe('API_KEYS', () => {
  it('keeps only digests, for plain and hashed entries alike', () => {
    const secret = 'plain-secret-0123456789';
    const result = parse(
      `shop:${secret},ops:${hashedApiKeyEntry('x', 'operator-secret-0123456789').split(':')[1]}:operator`,
    );
    expect(result.success).toBe(true);
    expect(result.data?.API_KEYS).toEqual([
      { clientId: 'shop', digest: sha256Hex(secret), role: 'client' },
      { clientId: 'ops', digest: sha256Hex('operator-secret-0123456789'), role: 'operator' },
    ]);
    expect(JSON.stringify(result.data)).not.toContain(secret);
  });

  it('writes the hashed entry for a secret, with the role only when not client', () => {
    expect(hashedApiKeyEntry('shop', 'abc')).toBe(`shop:sha256-${sha256Hex('abc')}`);
    expect(hashedApiKeyEntry('ops', 'abc', 'operator')).toBe(`ops:sha256-${sha256Hex('abc')}:operator`);
  });

  it('names the entry and the rule for each bad one', () => {
    expect(messages('shop:short')).toEqual(['entry 1: secret must be at least 16 characters']);
    expect(messages(`shop:sha256-${'A'.repeat(64)}`)).toEqual([
      'entry 1: a hashed key must be sha256- followed by 64 lowercase hex digits',
    ]);
    expect(messages('shop:plain-secret-0123456789:admin')).toEqual([
      'entry 1: role must be client or operator',
    ]);
    expect(messages('nonsense')).toEqual([
      'entry 1 must look like client:key or client:key:role (key: the secret or sha256-<hex>)',
    ]);
    // The same key twice, once plain and once hashed, is still the same key.
    expect(messages(`a:plain-secret-0123456789,b:sha256-${sha256Hex('plain-secret-0123456789')}`)).toEqual([
      'keys must be distinct',
    ]);
  });
});
