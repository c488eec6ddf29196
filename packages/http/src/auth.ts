import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'client' | 'operator';

export interface Principal {
  readonly clientId: string;
  readonly role: Role;
}

export interface KeyEntry extends Principal {
  readonly secret: string;
}

/**
 * Bearer-key authentication. Secrets are kept only as sha256 digests, and the comparison of the
 * presented key's digest with the stored one is constant-time.
 */
export function createAuthenticator(
  keys: readonly KeyEntry[],
): (authorization: string | undefined) => Principal | null {
  const byDigest = new Map<string, { digest: Buffer; principal: Principal }>();
  for (const key of keys) {
    const digest = sha256(key.secret);
    byDigest.set(digest.toString('hex'), { digest, principal: { clientId: key.clientId, role: key.role } });
  }
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match?.[1]) return null;
    const digest = sha256(match[1]);
    const entry = byDigest.get(digest.toString('hex'));
    if (!entry || !timingSafeEqual(entry.digest, digest)) return null;
    return entry.principal;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
