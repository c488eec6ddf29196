import type { FailureClass } from '@rechargeflow/domain';

/**
 * How every A1Topup failure is classified (docs/product.md, rule 2). "Sent" means request bytes may have
 * left the process; from then on only the status API or a callback may settle the order.
 *
 * | what happened                                              | class      | reason                 |
 * |------------------------------------------------------------|------------|------------------------|
 * | our validation of the call, or the provider already closed | not_sent   | invalid_request/closed |
 * | connection refused (ECONNREFUSED)                          | not_sent   | connection_refused     |
 * | DNS failure (ENOTFOUND, EAI_AGAIN, ...)                    | not_sent   | dns_failure            |
 * | connect timeout (TCP/TLS handshake, UND_ERR_CONNECT_TIMEOUT)| not_sent  | connect_timeout        |
 * | host/network unreachable during connect                    | not_sent   | unreachable            |
 * | TLS certificate refused by us during the handshake         | not_sent   | tls_refused            |
 * | parsed `Failure` answer                                    | (answer)   | `{status: 'failed'}`   |
 * | HTTP 400 401 403 404 405 410 411 413 414 415 429 431       | failed     | http_refused           |
 * |   (refused by the server or a gateway before any handler ran: bad request, auth, no such path,
 * |   wrong method, size limits, rate limit) — unless the body is a Success/Pending answer: ambiguous
 * | any other 4xx (408 timeout, 409 conflict, 422, 425, ...)   | ambiguous  | http_status            |
 * | 3xx (redirects are never followed)                         | ambiguous  | redirect               |
 * | 5xx                                                        | ambiguous  | http_status            |
 * | timeout after sending (headers, body, or total timeoutMs)  | ambiguous  | timeout                |
 * | connection reset / socket closed after sending             | ambiguous  | connection_reset       |
 * | body larger than maxResponseBytes (reading abandoned)      | ambiguous  | response_too_large     |
 * | empty body / HTML page / garbage / no status / unknown status text | ambiguous | unparseable... |
 * | answer about a different orderid                           | ambiguous  | orderid_mismatch       |
 * | recharge Failure saying the orderid was already used       | ambiguous  | duplicate_orderid      |
 * |   (an earlier request with this orderid exists and may have succeeded)
 * | status: Failure/Success answer that does not name the order| ambiguous  | orderid_missing        |
 * | status: "No record found" (or similar), even with Failure  | (answer)   | `{status: 'not_found'}`|
 * | any other transport error                                  | ambiguous  | transport_error        |
 *
 * Status and balance calls are read-only: a refused status call says nothing about the order, so
 * `checkStatus` never reports `failed` (refusals are `ambiguous`: "still unknown, ask again later").
 * The total timeout is treated as "after sending" even if it fired while connecting: we cannot prove
 * otherwise, so the connect timeout is capped below it to catch the provable case first.
 */

/** Codes that can only happen before a request byte is written. */
const NOT_SENT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'dns_failure',
  EAI_AGAIN: 'dns_failure',
  EAI_NONAME: 'dns_failure',
  EAI_FAIL: 'dns_failure',
  EAI_NODATA: 'dns_failure',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_CLOSED: 'closed',
  UND_ERR_INVALID_ARG: 'invalid_request',
  CERT_HAS_EXPIRED: 'tls_refused',
  CERT_NOT_YET_VALID: 'tls_refused',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls_refused',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls_refused',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls_refused',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls_refused',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls_refused',
};

/** Only not-sent when the failing system call was the connect itself. */
const CONNECT_PHASE_CODES: Readonly<Record<string, string>> = {
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
};

const AMBIGUOUS_CODES: Readonly<Record<string, string>> = {
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_ABORTED: 'aborted',
  UND_ERR_SOCKET: 'connection_reset',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response_too_large',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'connection_reset',
};

export interface Classification {
  readonly failureClass: FailureClass;
  readonly reason: string;
}

interface ErrorLike {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly name?: unknown;
  readonly errors?: unknown;
}

function notSentReason(error: ErrorLike): string | undefined {
  const code = typeof error.code === 'string' ? error.code : '';
  const direct = NOT_SENT_CODES[code];
  if (direct) return direct;
  if (error.syscall === 'connect' && CONNECT_PHASE_CODES[code]) return CONNECT_PHASE_CODES[code];
  // Happy-eyeballs connects report every address tried: not sent only if every attempt failed to connect.
  if (Array.isArray(error.errors) && error.errors.length > 0) {
    const reasons = error.errors.map((e: unknown) =>
      typeof e === 'object' && e !== null ? notSentReason(e as ErrorLike) : undefined,
    );
    if (reasons.every((r) => r !== undefined)) return reasons[0];
  }
  return undefined;
}

/** Any error thrown while exchanging a request with the provider. */
export function classifyTransportError(error: unknown, timedOut: boolean): Classification {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const notSent = notSentReason(e);
  if (notSent) return { failureClass: 'not_sent', reason: notSent };
  if (timedOut || e.name === 'TimeoutError' || e.name === 'AbortError') {
    return { failureClass: 'ambiguous', reason: 'timeout' };
  }
  const code = typeof e.code === 'string' ? e.code : '';
  return { failureClass: 'ambiguous', reason: AMBIGUOUS_CODES[code] ?? 'transport_error' };
}

/** HTTP statuses that prove the request was refused before any application handler ran. */
const REFUSED_STATUSES = new Set([400, 401, 403, 404, 405, 410, 411, 413, 414, 415, 429, 431]);

/** `null` for 2xx (read the answer); otherwise how a non-2xx status must be treated. */
export function classifyHttpStatus(statusCode: number): Classification | null {
  if (statusCode >= 200 && statusCode < 300) return null;
  if (REFUSED_STATUSES.has(statusCode)) return { failureClass: 'failed', reason: 'http_refused' };
  if (statusCode >= 300 && statusCode < 400) return { failureClass: 'ambiguous', reason: 'redirect' };
  return { failureClass: 'ambiguous', reason: 'http_status' };
}
