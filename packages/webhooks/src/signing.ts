import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature every delivery carries, as Stripe's users know it:
 * `Rechargeflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with
 * the endpoint's secret. The time is signed with the body, so a captured delivery cannot be
 * replayed once it is older than the receiver's tolerance.
 */
export const SIGNATURE_HEADER = 'Rechargeflow-Signature';
export const EVENT_ID_HEADER = 'Rechargeflow-Event-Id';

/** The header value for `rawBody` signed at `unixSeconds` with `secret`. */
export function signatureHeader(rawBody: string, secret: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

// docs/api.md ("Verifying a delivery") shows the same check in plain JavaScript for receivers;
// signing.test.ts runs that documented copy against this signer, so the two cannot drift apart.

/**
 * True when `header` (the Rechargeflow-Signature value) is a valid signature of `rawBody` (the
 * bytes as received, before any JSON parsing) with `secret`, made at most `toleranceSec` ago. Every
 * `v1` in the header is tried; the compare is constant-time.
 */
export function verifySignature(
  rawBody: string | Buffer,
  header: string | undefined,
  secret: string,
  toleranceSec = 300,
  nowSec = Date.now() / 1000,
): boolean {
  let t = Number.NaN;
  const signatures: Buffer[] = [];
  for (const part of String(header ?? '').split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return signatures.some((signature) => timingSafeEqual(signature, expected));
}
