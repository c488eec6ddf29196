import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type FieldIssue, ProviderNotEnabledError, ValidationError } from '@rechargeflow/domain';
import { OrderArchivedError } from '@rechargeflow/ledger';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RequestRefusedError } from './request-errors.ts';

/**
 * What a client may send where, and how a request the client got wrong is answered: always a 4xx
 * in the documented error shape (`{error, message, issues?}`), logged at info without a stack,
 * never the 503 that says "our fault, retry".
 */

/** What a route takes when its schema names no `consumes`: JSON. */
export const JSON_BODY_TYPES: readonly string[] = ['application/json'];

/** Room for the part headers around a multipart file, so a file just under the limit is not refused. */
const MULTIPART_ALLOWANCE_BYTES = 16 * 1024;

/** The media type of a Content-Type header, lower-case, without parameters; '' when absent. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** A client's content type, shown back only when it looks like one (never arbitrary header text). */
function shown(type: string): string {
  return /^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/.test(type) ? type : '(unreadable)';
}

/** The content types the route takes: its OpenAPI `consumes`, else JSON. */
export function bodyTypesOf(request: FastifyRequest): readonly string[] {
  const consumes = (request.routeOptions.schema as { consumes?: readonly string[] } | undefined)?.consumes;
  return consumes && consumes.length > 0 ? consumes : JSON_BODY_TYPES;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

function tooLarge(limit: number): RequestRefusedError {
  return new RequestRefusedError(
    413,
    'body_too_large',
    `the body is larger than the limit of ${limit} bytes`,
  );
}

/**
 * Per-route body rules and connection hygiene, on every route of `app`:
 *
 * - A body of a type the route does not take is refused with 415 before anything reads it (the
 *   CSV parser, which hands over the raw stream, only ever runs on the batch route).
 * - A body whose Content-Length is over the route's limit is refused with 413 at once; with
 *   `Expect: 100-continue` the client is told before it sends a byte of it. Only a request that
 *   passes gets its `100 Continue`.
 * - An `Expect` other than `100-continue` is refused with 417, an HTTP/1.1 request without `Host`
 *   with 400 (Node's own answers to both have no body; buildApi lets this one answer the second).
 * - An answer sent before the body has fully arrived closes the connection (`Connection: close`):
 *   the rest of that body would otherwise be read as the next request, or never read at all,
 *   leaving a pooled client's next request unanswered.
 */
export function installBodyGuards(app: FastifyInstance): void {
  // Node answers `Expect: 100-continue` by itself unless someone listens; we decide per route.
  app.server.on('checkContinue', (request, response) => app.server.emit('request', request, response));
  // Any other expectation Node would refuse with a bare 417 of its own: refused here instead, in
  // the documented shape (and logged like every refusal).
  const unmet = new WeakSet<IncomingMessage>();
  app.server.on('checkExpectation', (request, response) => {
    unmet.add(request);
    app.server.emit('request', request, response);
  });
  app.addHook('onRequest', async (request) => {
    // Node's own check (requireHostHeader) answers a bare 400; buildApi turns it off for this one.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new RequestRefusedError(400, 'bad_request', 'an HTTP/1.1 request needs a Host header');
    }
    if (unmet.has(request.raw)) {
      throw new RequestRefusedError(
        417,
        'expectation_failed',
        'the Expect header asks for something this API does not do; send no Expect header, or Expect: 100-continue',
      );
    }
  });

  app.addHook('preParsing', async (request, reply, payload) => {
    const expectsContinue = String(request.headers.expect ?? '').toLowerCase() === '100-continue';
    // An unknown path stays a plain 404, whatever it carries.
    if (!request.is404 && hasBody(request) && request.method !== 'GET' && request.method !== 'HEAD') {
      const accepted = bodyTypesOf(request);
      const type = mediaType(request.headers['content-type']);
      if (!accepted.includes(type)) {
        throw new RequestRefusedError(
          415,
          'unsupported_media_type',
          type === ''
            ? `a body needs a Content-Type; this route takes ${accepted.join(' or ')}`
            : `Content-Type ${shown(type)} is not accepted here; this route takes ${accepted.join(' or ')}`,
        );
      }
      const limit = request.routeOptions.bodyLimit;
      const allowance = type === 'multipart/form-data' ? MULTIPART_ALLOWANCE_BYTES : 0;
      if (Number(request.headers['content-length']) > limit + allowance) throw tooLarge(limit);
    }
    if (expectsContinue && !reply.raw.headersSent) reply.raw.writeContinue();
    return payload;
  });

  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete === false) reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request) => {
    // A body the route did not read to its end (already fully arrived): discard it, so the
    // connection reads the next request.
    if (request.raw.readableEnded === false && !request.raw.destroyed) request.raw.resume();
  });
}

/** How a refused request is answered. */
export interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly message: string;
  readonly issues?: readonly FieldIssue[] | undefined;
}

/**
 * The answer to an error that is the client's doing, or `undefined` for our own fault (a 503 and
 * an error log). Typed errors (`RequestRefusedError`, the domain's `ValidationError`, e.g. a
 * foreign cursor) say so themselves; a request whose connection broke off before its body arrived
 * is the client's; so is a 4xx that Fastify or a plugin raised, answered by its status with our own
 * words (their messages may echo the URL or a header).
 */
export function refusalFor(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): Refusal | undefined {
  if (error instanceof RequestRefusedError) {
    return { status: error.statusCode, error: error.errorCode, message: error.message, issues: error.issues };
  }
  if (error instanceof OrderArchivedError) {
    // An id whose order retention archived: a new order under it would reuse its provider orderid.
    return { status: 409, error: 'order_archived', message: error.message };
  }
  if (error instanceof ProviderNotEnabledError) {
    // A valid order this deployment cannot send (its provider is not in PROVIDERS): 422, not 400.
    return {
      status: 422,
      error: 'provider_not_enabled',
      message: error.issues.map((i) => `${i.field}: ${i.message}`).join('; '),
      issues: error.issues,
    };
  }
  if (error instanceof ValidationError) {
    return {
      status: 400,
      error: 'validation_failed',
      message: `invalid request: ${error.issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
      issues: error.issues,
    };
  }
  const raw = request.raw;
  if (raw.complete === false && (raw.readableAborted || !raw.socket || raw.socket.destroyed)) {
    return {
      status: 400,
      error: 'request_aborted',
      message: 'the connection closed before the request body was complete',
    };
  }
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  const code = (error as FastifyError).code;
  switch (status) {
    case 400:
      return {
        status,
        error: 'bad_request',
        // Fastify's and its plugins' 4xx texts are fixed; any other error's text is not shown.
        message:
          typeof code === 'string' && code.startsWith('FST_')
            ? (error as Error).message
            : 'the request is malformed',
      };
    case 408:
      return { status, error: 'request_timeout', message: 'the request did not arrive in time' };
    case 413:
      return {
        status,
        error: 'body_too_large',
        message: `the body is larger than the limit of ${request.routeOptions.bodyLimit} bytes`,
      };
    case 414:
      return { status, error: 'uri_too_long', message: 'the URL is too long' };
    case 415: {
      const accepted = bodyTypesOf(request);
      return {
        status,
        error: 'unsupported_media_type',
        message: `Content-Type ${shown(mediaType(request.headers['content-type']))} is not accepted here; this route takes ${accepted.join(' or ')}`,
      };
    }
    case 429: {
      const after = reply.getHeader('retry-after') ?? '60';
      return { status, error: 'rate_limited', message: `too many requests; retry after ${after} s` };
    }
    case 431:
      return { status, error: 'headers_too_large', message: 'the request headers are too large' };
    default:
      return { status, error: 'client_error', message: `the request was refused (${STATUS_CODES[status]})` };
  }
}

/**
 * Fastify's own refusals before routing (`frameworkErrors`): a URL that does not decode, a path
 * segment over the router's limit. Answered in our shape; the URL is never echoed.
 */
export function frameworkErrorHandler(maxParamLength: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const refusal: Refusal | undefined =
      error.code === 'FST_ERR_BAD_URL'
        ? { status: 400, error: 'bad_url', message: 'the URL is not valid: a %-escape in it does not decode' }
        : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? {
              status: 414,
              error: 'uri_too_long',
              message: `a segment of the path is longer than ${maxParamLength} characters`,
            }
          : undefined;
    if (!refusal) {
      request.log.error({ err: error }, 'request failed before routing');
      return reply
        .code(503)
        .send({ error: 'unavailable', message: 'the service could not complete the request' });
    }
    request.log.info(
      { status: refusal.status, error: refusal.error, method: request.method },
      'request refused',
    );
    return reply
      .code(refusal.status)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .send({ error: refusal.error, message: refusal.message });
  };
}

/** The answer under way on a connection (Node's own bookkeeping), if any. */
function inFlightOn(socket: Socket): ServerResponse | null | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
}

/** Connections whose bytes after a whole request were dropped (clientErrorHandler), once each. */
const dropping = new WeakSet<Socket>();

/**
 * A connection silent for the server's socket timeout (applyListenerLimits sets it to the request
 * timeout) is closed by Node without a word, even while its request's body is still awaited: it
 * races the request timeout's own 408. Such a request gets that 408 (`onClientError`, i.e.
 * clientErrorHandler); a connection between requests, or whose request arrived whole (the answer
 * is what is slow), is closed as Node would.
 */
export function answerSilentConnections(
  server: Server,
  onClientError: (error: Error & { code?: string }, socket: Socket) => void,
): void {
  server.on('timeout', (socket: Socket) => {
    // Between requests, or a request that arrived whole (our answer is what is slow): closed.
    const response = inFlightOn(socket);
    if (!response || response.req.complete) {
      socket.destroy();
      return;
    }
    onClientError(
      Object.assign(new Error('the connection was silent for the request timeout'), {
        code: 'ERR_HTTP_REQUEST_TIMEOUT',
      }),
      socket,
    );
  });
}

/**
 * What Node's HTTP parser refuses before there is a request at all (Fastify's `clientErrorHandler`):
 * headers over the limit (431), a request that did not arrive within the request or headers
 * timeout (408), bytes that are not HTTP (400). Answered in our shape and the connection closed;
 * logged at info. Nothing is written when an answer is already under way on the connection, nor
 * for bytes after a request that arrived whole (that request is answered, then the connection
 * closed).
 */
export function clientErrorHandler(log: FastifyBaseLogger, maxHeaderBytes: number) {
  return (error: Error & { code?: string }, socket: Socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const refusal: Refusal =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? {
            status: 431,
            error: 'headers_too_large',
            message: `the request line and headers are larger than the limit of ${maxHeaderBytes} bytes`,
          }
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? { status: 408, error: 'request_timeout', message: 'the request did not arrive in time' }
          : error.code === 'HPE_INVALID_EOF_STATE'
            ? {
                status: 400,
                error: 'request_aborted',
                message: 'the connection closed before the request was complete',
              }
            : { status: 400, error: 'bad_request', message: 'the request is not valid HTTP/1.1' };
    const inFlight = inFlightOn(socket);
    // Bytes after a request that arrived whole (a Content-Length shorter than what was sent, more
    // after `Connection: close`): that request is being handled and keeps its own answer, then the
    // connection closes; what came after it is dropped. A 400 here would take the place of that
    // answer, though the request took effect (an order created).
    if (inFlight?.req.complete && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (dropping.has(socket)) return;
      dropping.add(socket);
      log.info({ error: 'bytes_after_request', code: error.code }, 'client error');
      if (!inFlight.headersSent) inFlight.shouldKeepAlive = false;
      inFlight.once('finish', () => socket.end());
      return;
    }
    log.info({ status: refusal.status, error: refusal.error, code: error.code }, 'client error');
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ error: refusal.error, message: refusal.message });
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
    // A client that does not read the answer does not keep the connection either.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}
