import type { Pool } from 'undici';
import { type RawAnswer, ResponseTooLargeError } from '../a1topup/http.ts';

export interface JsonExchange {
  readonly path: string;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly maxResponseBytes: number;
  /** A fresh connection: a kept-alive socket closed by the server would make a top-up ambiguous for nothing. */
  readonly freshConnection: boolean;
}

/**
 * One JSON POST; resolves with the status and the whole (bounded) body, or throws the transport
 * error untouched for the caller to classify. Redirects are never followed.
 */
export async function exchangeJson(pool: Pool, options: JsonExchange): Promise<RawAnswer> {
  const response = await pool.request({
    path: options.path,
    method: 'POST',
    headers: {
      ...options.headers,
      'content-type': 'application/json',
      accept: 'application/json, */*',
      'user-agent': 'rechargeflow',
    },
    body: JSON.stringify(options.body),
    signal: options.signal,
    reset: options.freshConnection,
  });
  const limit = options.maxResponseBytes;
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
