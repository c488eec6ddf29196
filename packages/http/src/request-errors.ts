import { finished, PassThrough, type Readable } from 'node:stream';
import { type FieldIssue, RechargeflowError } from '@rechargeflow/domain';

/**
 * A request the client has to change before sending it again (a body that is not JSON, a content
 * type the route does not take, an upload that breaks off ...). The error handler answers it with
 * `statusCode` in the documented error shape and logs it at info, without a stack: it is not our
 * fault and must not page anyone.
 */
export class RequestRefusedError extends RechargeflowError {
  readonly statusCode: number;
  /** The `error` field of the answer, e.g. `invalid_json`. */
  readonly errorCode: string;
  readonly issues: readonly FieldIssue[] | undefined;

  constructor(
    statusCode: number,
    errorCode: string,
    message: string,
    options: { issues?: readonly FieldIssue[]; cause?: unknown } = {},
  ) {
    super(message, {
      retryable: false,
      context: { status: statusCode, error: errorCode },
      cause: options.cause,
    });
    this.statusCode = statusCode;
    this.errorCode = errorCode;
    this.issues = options.issues;
  }
}

/** Library text is kept short in answers. */
const MAX_DETAIL = 120;

/**
 * The request body could not be read: a malformed multipart body, an upload the client cut off.
 * 400; the library's own words (never the client's bytes) say what was wrong.
 */
export function unreadableBody(error: unknown): RequestRefusedError {
  const detail = error instanceof Error ? error.message.slice(0, MAX_DETAIL) : 'unknown reason';
  return new RequestRefusedError(400, 'unreadable_body', `the request body could not be read (${detail})`, {
    cause: error,
  });
}

/**
 * An error met while taking the body apart (multipart parsing): a 4xx the parser already chose is
 * kept, anything else is the client's malformed body.
 */
export function asBodyError(error: unknown): unknown {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  return unreadableBody(error);
}

/**
 * The client's body stream, seen through a pass-through: when the body itself breaks (the
 * connection cut off, a malformed multipart part, even before the reader is attached), the reader
 * gets `unreadableBody` (400), or the 4xx the parser chose (a file over its limit). An error the
 * reader stops on itself (the ledger failing mid-upload) is not re-labelled: that one is ours.
 */
export function clientBody(source: Readable): Readable {
  const body = new PassThrough();
  // The failure stays on the stream (`errored`) for a reader that comes later; emitted with nobody
  // listening, it would end the process.
  body.on('error', () => {});
  // Also fires for a source that failed before this call, or closed without its end.
  finished(source, { writable: false }, (error) => {
    if (error && !body.destroyed) body.destroy(asBodyError(error) as Error);
  });
  body.on('close', () => {
    if (!source.readableEnded) source.unpipe(body);
  });
  return source.pipe(body);
}
