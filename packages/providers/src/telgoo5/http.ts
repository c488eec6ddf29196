import type { Pool } from 'undici';
import { type RawAnswer, readBoundedAnswer } from '../a1topup/http.ts';

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
  return readBoundedAnswer(response, options.maxResponseBytes);
}
