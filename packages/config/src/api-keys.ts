import { createHash } from 'node:crypto';
import { z } from 'zod';
import { unsetWhenBlank } from './env.ts';

export type ApiRole = 'client' | 'operator';

/** A configured key, kept only as the sha256 digest of the secret (hex). */
export interface ApiKey {
  readonly clientId: string;
  readonly digest: string;
  readonly role: ApiRole;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HASHED = /^sha256-([0-9a-f]{64})$/;

/** The `API_KEYS` entry for a secret, stored hashed: `client:sha256-<hex>[:role]`. */
export function hashedApiKeyEntry(clientId: string, secret: string, role: ApiRole = 'client'): string {
  const entry = `${clientId}:sha256-${sha256Hex(secret)}`;
  return role === 'client' ? entry : `${entry}:${role}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * `API_KEYS`: comma-separated `client:key[:role]` (role `client` or `operator`), where key is either
 * the secret itself (at least 16 characters) or, better, its hash `sha256-<64 hex digits>` (see
 * `npm run api-key`), so the environment never holds a usable key. Plain secrets are hashed here,
 * when the configuration is parsed; only digests are kept. Keys must be distinct.
 */
export function apiKeys(defaultValue?: string) {
  const base = z.string({ error: 'is required: comma-separated client:key pairs' });
  return unsetWhenBlank(
    (defaultValue === undefined ? base : base.default(defaultValue)).transform((text, ctx) => {
      const keys: ApiKey[] = [];
      for (const [index, raw] of text.split(',').entries()) {
        const parts = raw.trim().split(':');
        const [clientId = '', key = '', role = 'client'] = parts;
        const where = `entry ${index + 1}`;
        if (parts.length < 2 || parts.length > 3) {
          ctx.addIssue({
            code: 'custom',
            message: `${where} must look like client:key or client:key:role (key: the secret or sha256-<hex>)`,
          });
          continue;
        }
        if (!CLIENT_ID.test(clientId)) {
          ctx.addIssue({
            code: 'custom',
            message: `${where}: client id must be 1-64 letters, digits, . _ -`,
          });
        }
        const hashed = HASHED.exec(key);
        if (!hashed && key.startsWith('sha256-')) {
          ctx.addIssue({
            code: 'custom',
            message: `${where}: a hashed key must be sha256- followed by 64 lowercase hex digits`,
          });
        } else if (!hashed && key.length < 16) {
          ctx.addIssue({ code: 'custom', message: `${where}: secret must be at least 16 characters` });
        }
        if (role !== 'client' && role !== 'operator') {
          ctx.addIssue({ code: 'custom', message: `${where}: role must be client or operator` });
          continue;
        }
        keys.push({ clientId, digest: hashed?.[1] ?? sha256Hex(key), role });
      }
      if (new Set(keys.map((k) => k.digest)).size !== keys.length) {
        ctx.addIssue({ code: 'custom', message: 'keys must be distinct' });
      }
      return keys;
    }),
  );
}
