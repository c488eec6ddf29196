import type { ParsedEnvelope } from './parse.ts';

/**
 * What one Telgoo5 add_topup answer means (docs/product.md, rule 2). add_topup has no orderid and
 * Telgoo5 has no status API, so anything not provably final is `ambiguous` and goes to a person.
 *
 * | answer                                                        | verdict         | class / result         |
 * |---------------------------------------------------------------|-----------------|------------------------|
 * | HTTP 2xx, msg_code RESTAPI000                                 | success         | `{status: 'success'}`  |
 * | HTTP 2xx/4xx, RESTAPI001 (Invalid Token, Token already used,  | token_rejected  | not executed: retried  |
 * |   Token expire, Invalid Access!!)                             |                 | with a fresh token up  |
 * |                                                               |                 | to maxTokenRetries,    |
 * |                                                               |                 | then `not_sent`        |
 * | HTTP 2xx/4xx, RESTAPI101-RESTAPI109, RESTAPI010, RESTAPI110   | refused         | `{status: 'failed'}`   |
 * |   (module/action/source/agent/company/method/access refusals, |                 | message: msg + errors  |
 * |   field validation errors): refused before execution          |                 |                        |
 * | HTTP 4xx with RESTAPI000 (contradiction)                      | ambiguous       | unexpected_answer      |
 * | any other msg_code (RESTAPI002, RESTAPI111, RESTAPI999, ...)  | ambiguous       | unknown_code           |
 * | body without msg_code, not JSON even leniently, HTML, empty   | ambiguous       | not_envelope/…         |
 * | HTTP 3xx (redirects are never followed)                       | ambiguous       | redirect               |
 * | HTTP 5xx, whatever the body                                   | ambiguous       | http_status            |
 * | 4xx without the envelope                                      | ambiguous       | http_status            |
 * | transport: timeout after sending, reset, oversize body        | ambiguous       | (a1topup/classify.ts)  |
 * | transport: connection refused, DNS failure, connect timeout   | not_sent        | (a1topup/classify.ts)  |
 *
 * Whatever the verdict, a next token found in the answer goes back into the lease.
 */
export type TopupVerdict =
  | { readonly kind: 'success'; readonly msgCode: string; readonly message?: string | undefined }
  | { readonly kind: 'token_rejected'; readonly msgCode: string; readonly message?: string | undefined }
  | { readonly kind: 'refused'; readonly msgCode: string; readonly message: string }
  | { readonly kind: 'ambiguous'; readonly reason: string; readonly detail: string };

const REFUSAL_CODES = new Set([
  'RESTAPI010',
  'RESTAPI101',
  'RESTAPI102',
  'RESTAPI103',
  'RESTAPI104',
  'RESTAPI105',
  'RESTAPI106',
  'RESTAPI107',
  'RESTAPI108',
  'RESTAPI109',
  'RESTAPI110',
]);

/** `msg: error; error` without repeating a msg that is also the only error (sample 3). */
export function refusalMessage(msg: string | undefined, errors: readonly string[]): string {
  const extra = errors.filter((e) => e !== msg);
  const parts = [msg, extra.length > 0 ? extra.join('; ') : undefined].filter(
    (p) => p !== undefined && p !== '',
  );
  return parts.join(': ') || 'refused without a message';
}

export function classifyTopup(statusCode: number, parsed: ParsedEnvelope): TopupVerdict {
  if (statusCode >= 500) return { kind: 'ambiguous', reason: 'http_status', detail: `HTTP ${statusCode}` };
  if (statusCode >= 300 && statusCode < 400) {
    return {
      kind: 'ambiguous',
      reason: 'redirect',
      detail: `HTTP ${statusCode} (redirects are not followed)`,
    };
  }
  if (statusCode < 200) return { kind: 'ambiguous', reason: 'http_status', detail: `HTTP ${statusCode}` };
  if (!parsed.ok) {
    const http = statusCode >= 400 ? `HTTP ${statusCode}, ` : '';
    return { kind: 'ambiguous', reason: parsed.reason, detail: `${http}${parsed.detail}` };
  }
  const { msgCode, msg, errors } = parsed.envelope;
  if (msgCode === 'RESTAPI000') {
    if (statusCode >= 400) {
      return { kind: 'ambiguous', reason: 'unexpected_answer', detail: `HTTP ${statusCode} with ${msgCode}` };
    }
    return { kind: 'success', msgCode, message: msg };
  }
  if (msgCode === 'RESTAPI001') return { kind: 'token_rejected', msgCode, message: msg };
  if (REFUSAL_CODES.has(msgCode)) return { kind: 'refused', msgCode, message: refusalMessage(msg, errors) };
  return { kind: 'ambiguous', reason: 'unknown_code', detail: `unknown msg_code ${msgCode}` };
}
