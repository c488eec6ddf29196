import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Why a token was refused; each maps onto one of the document's RESTAPI001 messages. */
export type TokenRejection = 'invalid' | 'used' | 'expired';

export const REJECTION_MESSAGES: Readonly<Record<TokenRejection | 'access', string>> = {
  invalid: 'Invalid Token',
  used: 'Token already used',
  expired: 'Token expire',
  access: 'Invalid Access!!',
};

interface Issued {
  readonly expiresAt: number;
  used: boolean;
  /** Set by `revokeAll`: the token answers this from now on. */
  revoked: TokenRejection | undefined;
}

/** Entries kept at most; beyond that the oldest are forgotten (they then answer "Token expire"). */
const MAX_TRACKED = 1_000_000;

/**
 * Telgoo5's token rules: HS256 JWTs with an `exp` claim, valid for one call and `ttlMs` after issue.
 * Unlike the real tokens (whose payload carries the vendor's password), these carry no credential.
 */
export function createTokenIssuer(vendorId: string) {
  let secret = randomBytes(32);
  let seq = 0;
  // Insertion order is issue order, so expired entries are pruned from the front.
  const issued = new Map<string, Issued>();

  function sign(input: string): Buffer {
    return createHmac('sha256', secret).update(input).digest();
  }

  function prune(now: number): void {
    for (const [jti, entry] of issued) {
      if (entry.expiresAt > now && issued.size <= MAX_TRACKED) break;
      issued.delete(jti);
    }
  }

  return {
    issue(ttlMs: number): string {
      const now = Date.now();
      prune(now);
      seq += 1;
      const jti = `${seq.toString(36)}.${randomBytes(8).toString('hex')}`;
      const expiresAt = now + ttlMs;
      issued.set(jti, { expiresAt, used: false, revoked: undefined });
      const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
      // `exp` rounded down, like a JWT NumericDate: a client going by it never sends a token late.
      const payload = Buffer.from(
        JSON.stringify({
          data: { vendor_id: vendorId, log_id: seq },
          exp: Math.floor(expiresAt / 1000),
          jti,
        }),
      ).toString('base64url');
      return `${header}.${payload}.${sign(`${header}.${payload}`).toString('base64url')}`;
    },

    /** Checks a token and, when it is good, uses it up (single use, whatever the request's outcome). */
    spend(token: string | undefined): { ok: true } | { ok: false; why: TokenRejection } {
      const parts = (token ?? '').trim().split('.');
      if (parts.length !== 3) return { ok: false, why: 'invalid' };
      const [header = '', payload = '', signature = ''] = parts;
      const expected = sign(`${header}.${payload}`);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return { ok: false, why: 'invalid' };
      let jti: unknown;
      try {
        jti = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { jti?: unknown }).jti;
      } catch {
        return { ok: false, why: 'invalid' };
      }
      const entry = typeof jti === 'string' ? issued.get(jti) : undefined;
      // Signed by us but forgotten: only expired entries are forgotten.
      if (!entry) return { ok: false, why: 'expired' };
      if (entry.revoked) return { ok: false, why: entry.revoked };
      if (Date.now() >= entry.expiresAt) return { ok: false, why: 'expired' };
      if (entry.used) return { ok: false, why: 'used' };
      entry.used = true;
      return { ok: true };
    },

    /** Every token issued so far and not yet used answers `as` from now on; returns how many. */
    revokeAll(as: TokenRejection): number {
      let count = 0;
      const now = Date.now();
      for (const entry of issued.values()) {
        if (entry.used) continue;
        if (!entry.revoked && entry.expiresAt > now) count += 1;
        entry.revoked = as;
      }
      return count;
    },

    /** Issued, unused and unexpired. */
    outstanding(): number {
      const now = Date.now();
      let count = 0;
      for (const entry of issued.values())
        if (!entry.used && !entry.revoked && entry.expiresAt > now) count += 1;
      return count;
    },

    /** Forgets every token and changes the key, so tokens from before answer "Invalid Token". */
    reset(): void {
      secret = randomBytes(32);
      issued.clear();
      seq = 0;
    },
  };
}

export type TokenIssuer = ReturnType<typeof createTokenIssuer>;
