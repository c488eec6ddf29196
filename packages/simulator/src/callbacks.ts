import { Agent, request } from 'undici';

export type CallbackStatus = 'Success' | 'Failure';

/** What made the simulator send a callback. */
export type CallbackTrigger = 'settle' | 'reversal' | 'answer' | 'manual';

/** One callback delivery, kept on the order for inspection. */
export interface CallbackRecord {
  /** Start order of deliveries since the last reset: sorts concurrent copies as they were sent. */
  readonly seq: number;
  readonly status: CallbackStatus;
  readonly opid: string;
  /**
   * `settle` (late result), `reversal` (scheduled or `/_sim/reverse`), `answer` (the result of a
   * definite answer, `answerCallback`), `manual` (`/_sim/callbacks`).
   */
  readonly trigger: CallbackTrigger;
  /** Index in the sent sequence (0 for automatic callbacks). */
  readonly element: number;
  /** Which copy of the element this is, 1..copies. */
  readonly copy: number;
  readonly copies: number;
  /** The configured callbackUrl, or a `url` given to `/_sim/callbacks` (the URL itself is not kept). */
  readonly target: 'configured' | 'given';
  /** When the request started, and how long until its answer (or failure). */
  readonly at: string;
  readonly ms: number;
  readonly delivered: boolean;
  readonly httpStatus?: number | undefined;
  readonly error?: string | undefined;
}

export interface DeliveryResult {
  readonly at: string;
  readonly ms: number;
  readonly delivered: boolean;
  readonly httpStatus?: number | undefined;
  readonly error?: string | undefined;
}

export interface CallbackSender {
  /** `GET {url}?txid=<orderid>&status=Success|Failure&opid=...`, as the document describes. */
  send(
    url: string,
    params: { txid: string; status: CallbackStatus; opid: string },
    timeoutMs: number,
  ): Promise<DeliveryResult>;
  /** Waits for callbacks in flight (each bounded by its timeout), then closes the connections. */
  close(): Promise<void>;
}

/** Error texts may quote the URL, whose path carries the receiver's token: cut it out. */
function scrub(message: string, url: URL): string {
  let text = message;
  for (const secret of [url.href, url.pathname, url.search]) {
    if (secret.length > 1) text = text.split(secret).join('…');
  }
  return text;
}

export function createCallbackSender(): CallbackSender {
  // Redirects are not followed: this agent has no redirect interceptor. No connection limit per
  // origin, so concurrent copies really travel at once (one socket each).
  const agent = new Agent({ connectTimeout: 5_000, keepAliveTimeout: 1_000 });
  const inFlight = new Set<Promise<DeliveryResult>>();

  async function deliver(
    url: string,
    params: { txid: string; status: CallbackStatus; opid: string },
    timeoutMs: number,
  ): Promise<DeliveryResult> {
    const at = new Date().toISOString();
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = new URL(url);
    target.searchParams.set('txid', params.txid);
    target.searchParams.set('status', params.status);
    target.searchParams.set('opid', params.opid);
    try {
      const response = await request(target, {
        dispatcher: agent,
        method: 'GET',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump({ limit: 64 * 1024 });
      const delivered = response.statusCode >= 200 && response.statusCode < 300;
      return { at, ms: elapsed(), delivered, httpStatus: response.statusCode };
    } catch (error) {
      return { at, ms: elapsed(), delivered: false, error: scrub((error as Error).message, target) };
    }
  }

  return {
    send(url, params, timeoutMs) {
      const attempt = deliver(url, params, timeoutMs);
      inFlight.add(attempt);
      void attempt.finally(() => inFlight.delete(attempt));
      return attempt;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      await agent.close();
    },
  };
}
