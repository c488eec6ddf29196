import { Agent, request } from 'undici';

/** One callback attempt, kept on the order for inspection. */
export interface CallbackRecord {
  readonly status: 'Success' | 'Failure';
  readonly at: string;
  readonly delivered: boolean;
  readonly httpStatus?: number | undefined;
  readonly error?: string | undefined;
}

export interface CallbackSender {
  /** `GET {url}?txid=<orderid>&status=Success|Failure&opid=...`, as the document describes. */
  send(
    url: string,
    params: { txid: string; status: 'Success' | 'Failure'; opid: string },
    timeoutMs: number,
  ): Promise<CallbackRecord>;
  /** Waits for callbacks in flight (each bounded by its timeout), then closes the connections. */
  close(): Promise<void>;
}

export function createCallbackSender(): CallbackSender {
  // Redirects are not followed: this agent has no redirect interceptor.
  const agent = new Agent({ connectTimeout: 5_000, keepAliveTimeout: 1_000 });
  const inFlight = new Set<Promise<CallbackRecord>>();

  async function deliver(
    url: string,
    params: { txid: string; status: 'Success' | 'Failure'; opid: string },
    timeoutMs: number,
  ): Promise<CallbackRecord> {
    const at = new Date().toISOString();
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
      return { status: params.status, at, delivered, httpStatus: response.statusCode };
    } catch (error) {
      return { status: params.status, at, delivered: false, error: (error as Error).message };
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
