import { RechargeflowError } from '@rechargeflow/domain';
import type { Pool } from 'undici';

export interface RawAnswer {
  readonly statusCode: number;
  readonly body: string;
}

/** Thrown when the answer is larger than allowed; reading stops at once. */
export class ResponseTooLargeError extends RechargeflowError {
  readonly code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
  constructor(limit: number) {
    super(`answer larger than ${limit} bytes`, { context: { limit } });
  }
}

export interface ExchangeOptions {
  readonly path: string;
  readonly form: URLSearchParams;
  readonly signal: AbortSignal;
  readonly maxResponseBytes: number;
  /**
   * A fresh connection (Connection: close). Used for recharges: a kept-alive socket the server
   * closed while idle fails after the request was written, which would make the order ambiguous
   * for nothing.
   */
  readonly freshConnection: boolean;
}

/**
 * One form POST; resolves with the status and the whole (bounded) body, or throws the transport
 * error untouched for the caller to classify. Redirects are not followed (no redirect interceptor).
 */
export async function exchange(pool: Pool, options: ExchangeOptions): Promise<RawAnswer> {
  const response = await pool.request({
    path: options.path,
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json, application/xml, text/plain, */*',
      'user-agent': 'rechargeflow',
    },
    body: options.form.toString(),
    signal: options.signal,
    reset: options.freshConnection,
  });
  return readBoundedAnswer(response, options.maxResponseBytes);
}

/**
 * Reads an answer body up to `limit` bytes; a larger one (declared or streamed) is abandoned with
 * `ResponseTooLargeError` — the caller classes it as ambiguous.
 */
export async function readBoundedAnswer(
  response: {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: AsyncIterable<unknown> & { destroy(): unknown };
  },
  limit: number,
): Promise<RawAnswer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw new ResponseTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      response.body.destroy();
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(buffer);
  }
  return { statusCode: response.statusCode, body: new TextDecoder('utf-8').decode(Buffer.concat(chunks)) };
}
