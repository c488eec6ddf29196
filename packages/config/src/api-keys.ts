import { z } from 'zod';

export type ApiRole = 'client' | 'operator';

export interface ApiKey {
  readonly clientId: string;
  readonly secret: string;
  readonly role: ApiRole;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `API_KEYS`: comma-separated `client:secret` or `client:secret:role` (role `client` or
 * `operator`). Secrets must be at least 16 characters; secrets must be distinct.
 */
export function apiKeys(defaultValue?: string) {
  const base = z.string({ error: 'is required: comma-separated client:secret pairs' });
  return z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    (defaultValue === undefined ? base : base.default(defaultValue)).transform((text, ctx) => {
      const keys: ApiKey[] = [];
      for (const [index, raw] of text.split(',').entries()) {
        const parts = raw.trim().split(':');
        const [clientId = '', secret = '', role = 'client'] = parts;
        const where = `entry ${index + 1}`;
        if (parts.length < 2 || parts.length > 3) {
          ctx.addIssue({
            code: 'custom',
            message: `${where} must look like client:secret or client:secret:role`,
          });
          continue;
        }
        if (!CLIENT_ID.test(clientId)) {
          ctx.addIssue({
            code: 'custom',
            message: `${where}: client id must be 1-64 letters, digits, . _ -`,
          });
        }
        if (secret.length < 16) {
          ctx.addIssue({ code: 'custom', message: `${where}: secret must be at least 16 characters` });
        }
        if (role !== 'client' && role !== 'operator') {
          ctx.addIssue({ code: 'custom', message: `${where}: role must be client or operator` });
          continue;
        }
        keys.push({ clientId, secret, role });
      }
      if (new Set(keys.map((k) => k.secret)).size !== keys.length) {
        ctx.addIssue({ code: 'custom', message: 'secrets must be distinct' });
      }
      return keys;
    }),
  );
}
