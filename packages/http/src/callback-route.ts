import { createHash, timingSafeEqual } from 'node:crypto';
import type { LedgerStore } from '@rechargeflow/ledger';
import type { Metrics } from '@rechargeflow/observability';
import { callbackJobId, type JobProducer } from '@rechargeflow/queue';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface CallbackRouteDeps {
  readonly ledger: LedgerStore;
  readonly producer: JobProducer;
  readonly logger: FastifyBaseLogger;
  readonly metrics?: Metrics | undefined;
  /** Accepted tokens; several at once let an operator rotate without downtime. Empty: route off. */
  readonly tokens: readonly string[];
  /** Callbacks per minute per sending IP address. */
  readonly perMinute: number;
}

const MAX_PARAM = 200;

/**
 * `GET|POST /callbacks/a1topup/:token?txid=&status=&opid=`: A1Topup's late results and dispute
 * reversals. The token is compared in constant time; a wrong one changes nothing and gets the same
 * 404 as an unknown path. Every callback is stored (deduplicated) before it is applied by a job,
 * so the answer is fast and nothing accepted is lost.
 */
export function registerCallbackRoute(app: FastifyInstance, deps: CallbackRouteDeps): void {
  const digests = deps.tokens.map((t) => sha256(t));
  const tokenOk = (given: string) => {
    const digest = sha256(given);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, digest) || ok;
    return ok;
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const { token } = request.params as { token: string };
    if (digests.length === 0 || !tokenOk(token)) {
      deps.metrics?.callbacksTotal.inc({ provider: 'a1topup', outcome: 'forged' });
      return reply.code(404).send({ error: 'not_found', message: 'no such route' });
    }
    const params = { ...(asRecord(request.query) ?? {}), ...(asRecord(request.body) ?? {}) };
    const txid = text(params.txid);
    const status = text(params.status);
    const opid = text(params.opid);
    const missing = [!txid && 'txid', !status && 'status'].filter(Boolean) as string[];
    if (missing.length > 0 || [txid, status, opid].some((v) => v !== undefined && v.length > MAX_PARAM)) {
      deps.metrics?.callbacksTotal.inc({ provider: 'a1topup', outcome: 'rejected' });
      return reply.code(400).send({
        error: 'invalid_callback',
        message:
          missing.length > 0
            ? `missing ${missing.join(' and ')}: a callback needs txid (our order id) and status (Success or Failure)`
            : `a parameter is longer than ${MAX_PARAM} characters`,
        issues: missing.map((field) => ({ field, rule: 'required', message: 'is required' })),
      });
    }
    const raw = new URLSearchParams(
      Object.entries(params)
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
        .map(([k, v]) => [k, String(v).slice(0, MAX_PARAM)] as [string, string]),
    ).toString();
    const { record, isNew } = await deps.ledger.recordCallback({
      provider: 'a1topup',
      providerOrderId: txid!,
      status: status!,
      providerRef: opid,
      receivedAt: new Date().toISOString(),
      raw,
    });
    if (!isNew) {
      deps.metrics?.callbacksTotal.inc({ provider: 'a1topup', outcome: 'duplicate' });
      return reply.code(200).type('text/plain').send('OK');
    }
    try {
      await deps.producer.enqueue('callback.apply', { callbackId: record.id }, callbackJobId(record.id));
    } catch (error) {
      // Stored: the poller's sweep hands `received` callbacks to the queue again.
      request.log.warn(
        { callbackId: record.id, err: String(error) },
        'callback stored; its job could not be added yet',
      );
    }
    return reply.code(200).type('text/plain').send('OK');
  };

  const schema = { summary: 'A1Topup callback (late results, dispute reversals)', hide: false };
  // Counted per sending address, not per client key (a provider has none), with a limit of its own.
  // No rate-limit headers: a wrong token must look exactly like an unknown path.
  const noHeaders = {
    'x-ratelimit-limit': false,
    'x-ratelimit-remaining': false,
    'x-ratelimit-reset': false,
    'retry-after': false,
  } as const;
  const config = {
    rateLimit: {
      max: deps.perMinute,
      keyGenerator: (request: { ip: string }) => `callback-ip:${request.ip}`,
      addHeaders: noHeaders,
      addHeadersOnExceeding: noHeaders,
    },
  };
  app.get('/callbacks/a1topup/:token', { schema, config }, handler);
  app.post('/callbacks/a1topup/:token', { schema, config }, handler);
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The URL as it may be logged: the callback token replaced. */
export function redactCallbackUrl(url: string): string {
  return url.replace(/^(\/callbacks\/[^/?]+\/)[^/?]+/, '$1[redacted]');
}
