import { maskCardNumbers, maskNumber } from '@rechargeflow/domain';
import { Agent, buildConnector } from 'undici';
import { assertLiteralAllowed, guardedLookup } from './destination.ts';
import { DestinationRefusedError } from './destination-refused-error.ts';

/** The first bytes of an answer kept with the attempt, for the client's debugging; the rest is dropped. */
export const MAX_ANSWER_BYTES = 256;

export interface SenderSettings {
  /** Longest one attempt may take, connect to last byte read (WEBHOOK_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: skip the address guard (demos and tests with loopback receivers). */
  readonly allowPrivate: boolean;
  /** Sent as User-Agent. */
  readonly userAgent?: string | undefined;
}

/** What one POST came to. */
export interface AttemptResult {
  /** ISO time the attempt started. */
  readonly at: string;
  /** 2xx: the receiver took it. A 3xx is not followed and counts as a failure. */
  readonly delivered: boolean;
  readonly status?: number | undefined;
  /** Why there was no answer, in words (timed out, refused, address not allowed …). */
  readonly error?: string | undefined;
  readonly durationMs: number;
  /** The answer's first bytes (at most MAX_ANSWER_BYTES), long digit runs masked. */
  readonly body?: string | undefined;
}

export interface WebhookSender {
  post(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<AttemptResult>;
  /** Closes the connections; waits for attempts in flight (each bounded by the timeout). */
  close(): Promise<void>;
}

/**
 * What a receiver answered, as kept with the attempt: the client's own bytes, but a receiver may
 * echo the payload back, so anything shaped like a phone or card number is masked before it is
 * stored (docs/security.md, personal data in storage).
 */
function keptAnswer(bytes: Buffer): string {
  const text = new TextDecoder('utf-8').decode(bytes);
  return maskCardNumbers(text)
    .replace(/\d{8,}/g, (run) => maskNumber(run))
    .slice(0, MAX_ANSWER_BYTES);
}

/** A transport failure in words, without the stack. */
function failureText(error: unknown, timeoutMs: number, timedOut: boolean): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  if (error instanceof DestinationRefusedError) return `address not allowed: ${error.message}`;
  const code = (error as { code?: unknown } | null)?.code;
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause instanceof DestinationRefusedError) return `address not allowed: ${cause.message}`;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
      return 'the host does not resolve';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset before an answer';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `timed out after ${timeoutMs} ms`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `${typeof code === 'string' ? `${code}: ` : ''}${message}`.slice(0, 200);
}

/**
 * The HTTP client of webhook deliveries: one POST per attempt, bounded in time (connect, answer and
 * body together), in what it reads (the first 256 bytes of the answer, then the connection is
 * dropped), and in where it goes: redirects are never followed (undici follows none without its
 * redirect interceptor), and unless `allowPrivate` every connection is checked on the address it is
 * about to use — literal addresses in the connector, names in the socket's own DNS lookup — so a
 * name that resolves inside the network at connect time (DNS rebinding) is refused.
 */
export function createWebhookSender(settings: SenderSettings): WebhookSender {
  const timeoutMs = settings.timeoutMs;
  const base = buildConnector({
    timeout: timeoutMs,
    ...(settings.allowPrivate ? {} : { lookup: guardedLookup as never }),
  });
  const connect: buildConnector.connector = (options, callback) => {
    if (!settings.allowPrivate) {
      try {
        assertLiteralAllowed(options.hostname);
      } catch (error) {
        callback(error as Error, null);
        return;
      }
    }
    base(options, callback);
  };
  const agent = new Agent({
    connect,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    // Idle sockets to a receiver are kept briefly: retries and bursts reuse them.
    keepAliveTimeout: 4_000,
    connections: 16,
  });
  const inFlight = new Set<Promise<AttemptResult>>();

  async function attempt(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<AttemptResult> {
    const at = new Date().toISOString();
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const target = new URL(url);
      const response = await agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': settings.userAgent ?? 'Rechargeflow-Webhooks/1',
        },
        body,
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of response.body) {
          const buffer = chunk as Buffer;
          chunks.push(buffer);
          size += buffer.length;
          if (size >= MAX_ANSWER_BYTES) break;
        }
      } catch {
        // An answer cut off mid-body still has its status; what arrived is kept.
      } finally {
        // Anything past the first bytes is never read: the socket is dropped rather than drained.
        if (!response.body.readableEnded) response.body.destroy();
      }
      const status = response.statusCode;
      const answer = Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES);
      return {
        at,
        delivered: status >= 200 && status < 300,
        status,
        durationMs: durationMs(),
        ...(answer.length > 0 ? { body: keptAnswer(answer) } : {}),
      };
    } catch (error) {
      return {
        at,
        delivered: false,
        error: failureText(error, timeoutMs, signal.aborted).slice(0, 500),
        durationMs: durationMs(),
      };
    }
  }

  return {
    post(url, body, headers) {
      const running = attempt(url, body, headers);
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
      return running;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      await agent.close();
    },
  };
}
