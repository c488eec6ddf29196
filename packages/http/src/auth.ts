import { hash, timingSafeEqual } from 'node:crypto';

export type Role = 'client' | 'operator';

export interface Principal {
  readonly clientId: string;
  readonly role: Role;
}

/** A key as configured: its sha256 digest (hex), or in tests the secret itself. */
export type KeyEntry = Principal & ({ readonly digest: string } | { readonly secret: string });

export interface AuthOptions {
  /**
   * Also accept HTTP Basic whose password is the API key (the user name is ignored). Only for pages
   * a browser opens (the queue board): a browser cannot add a Bearer header to its own requests.
   */
  readonly basic?: boolean | undefined;
}

/**
 * API-key authentication: `Authorization: Bearer <key>` (or, where asked, Basic with the key as the
 * password). Keys are kept only as sha256 digests (API_KEYS may hold only the digests), and the
 * comparison of the presented key's digest with the stored one is constant-time. A plain sha256 is
 * enough because keys are long random strings (at least 16 characters; `npm run api-key` makes
 * 32-character ones), not passwords a person chose.
 */
export function createAuthenticator(
  keys: readonly KeyEntry[],
): (authorization: string | undefined, options?: AuthOptions) => Principal | null {
  const byDigest = new Map<string, { digest: Buffer; principal: Principal }>();
  for (const key of keys) {
    const digest = 'digest' in key ? Buffer.from(key.digest, 'hex') : sha256(key.secret);
    byDigest.set(digest.toString('hex'), { digest, principal: { clientId: key.clientId, role: key.role } });
  }
  return (authorization, options) => {
    const secret = presentedSecret(authorization, options?.basic === true);
    if (!secret) return null;
    const digest = sha256(secret);
    const entry = byDigest.get(digest.toString('hex'));
    if (!entry || !timingSafeEqual(entry.digest, digest)) return null;
    return entry.principal;
  };
}

function presentedSecret(authorization: string | undefined, basic: boolean): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (bearer?.[1]) return bearer[1];
  if (!basic) return null;
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!encoded?.[1]) return null;
  const decoded = Buffer.from(encoded[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  return password === '' ? null : password;
}

/** One-shot hash (no Hash object per request: this runs on every request). */
function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}
