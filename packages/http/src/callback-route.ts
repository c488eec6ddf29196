import { createHash, timingSafeEqual } from 'node:crypto';
import type { CallbackStore } from '@rechargeflow/ledger';
import { type Metrics, redactCallbackPaths } from '@rechargeflow/observability';
import type { CallbackModule } from '@rechargeflow/providers';
import { callbackJobId, type JobProducer, type QueueConnection } from '@rechargeflow/queue';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface CallbackRouteDeps {
  /** The providers that take callbacks (the registry's `callbackModules`): one route each. */
  readonly providers: readonly CallbackModule[];
  readonly ledger: CallbackStore;
  readonly producer: JobProducer;
  readonly logger: FastifyBaseLogger;
  readonly metrics?: Metrics | undefined;
  /** Accepted tokens; several at once let an operator rotate without downtime. Empty: route off. */
  readonly tokens: readonly string[];
  /** Callbacks per minute per sending IP address. */
  readonly perMinute: number;
  /**
   * Where the counts are shared by every replica, under `rateLimitNameSpace`; a connection that
   * fails fast (no offline queue), so an outage falls back to counting in this process at once.
   * Without it, each process counts alone.
   */
  readonly rateLimitRedis?: QueueConnection | undefined;
  readonly rateLimitNameSpace?: string | undefined;
}

const MAX_PARAM = 200;

/**
 * `GET|POST /callbacks/<provider>/:token` for each provider that takes callbacks, with the
 * parameters its module names (A1Topup: `/callbacks/a1topup/:token?txid=&status=&opid=`): late
 * results and dispute reversals. One static route per provider, so an unknown provider is an
 * unknown path. The token is compared in constant time; a wrong one changes nothing and gets the
 * same 404 as an unknown path. Every callback is stored (deduplicated) before it is applied by a
 * job, so the answer is fast and nothing accepted is lost.
 */
export function registerCallbackRoute(app: FastifyInstance, deps: CallbackRouteDeps): void {
  const digests = deps.tokens.map((t) => sha256(t));
  const tokenOk = (given: string) => {
    if (digests.length === 0) return false;
    const digest = sha256(given);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, digest) || ok;
    return ok;
  };
  const limit = callbackRateLimit(deps);
  for (const provider of deps.providers) {
    const schema = { summary: provider.callbacks.summary, hide: false };
    // `rateLimit: false`: the plugin's hook fails closed when its Redis does (right for the other
    // routes); this route counts on its own, first thing (onRequest, like the plugin).
    const options = { schema, config: { rateLimit: false }, onRequest: limit } as const;
    const handler = callbackHandler(provider, deps, tokenOk);
    app.get(`/callbacks/${provider.name}/:token`, options, handler);
    app.post(`/callbacks/${provider.name}/:token`, options, handler);
  }
}

/** One provider's callbacks: the parameters its module names read, stored, and a job added to apply them. */
function callbackHandler(
  provider: CallbackModule,
  deps: CallbackRouteDeps,
  tokenOk: (given: string) => boolean,
) {
  const name = provider.name;
  const names = provider.callbacks.parameters;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { token } = request.params as { token: string };
    if (!tokenOk(token)) {
      deps.metrics?.callbacksTotal.inc({ provider: name, outcome: 'forged' });
      return reply.code(404).send({ error: 'not_found', message: 'no such route' });
    }
    const params = { ...(asRecord(request.query) ?? {}), ...(asRecord(request.body) ?? {}) };
    const providerOrderId = text(params[names.providerOrderId]);
    const status = text(params[names.status]);
    const providerRef = names.providerRef === undefined ? undefined : text(params[names.providerRef]);
    const missing = [!providerOrderId && names.providerOrderId, !status && names.status].filter(
      Boolean,
    ) as string[];
    const tooLong = [providerOrderId, status, providerRef].some(
      (v) => v !== undefined && v.length > MAX_PARAM,
    );
    if (missing.length > 0 || tooLong) {
      deps.metrics?.callbacksTotal.inc({ provider: name, outcome: 'rejected' });
      return reply.code(400).send({
        error: 'invalid_callback',
        message:
          missing.length > 0
            ? `missing ${missing.join(' and ')}: a callback needs ${provider.callbacks.needs}`
            : `a parameter is longer than ${MAX_PARAM} characters`,
        issues: missing.map((field) => ({ field, rule: 'required', message: 'is required' })),
      });
    }
    // Only the fields we read are kept: never the URL, the token or a parameter we do not know.
    const kept: [string, string][] = [
      [names.providerOrderId, providerOrderId!],
      [names.status, status!],
    ];
    if (names.providerRef !== undefined && providerRef !== undefined)
      kept.push([names.providerRef, providerRef]);
    const { record, isNew } = await deps.ledger.recordCallback({
      provider: name,
      providerOrderId: providerOrderId!,
      status: status!,
      providerRef,
      receivedAt: new Date().toISOString(),
      raw: new URLSearchParams(kept).toString(),
    });
    if (!isNew) {
      deps.metrics?.callbacksTotal.inc({ provider: name, outcome: 'duplicate' });
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
}

const WINDOW_MS = 60_000;
/** Addresses the in-process counter tracks; past it the counts start over (bounded memory). */
const LOCAL_MAX_KEYS = 10_000;
/** One fixed window per key: the first request of a window sets its expiry. */
const COUNT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * Callbacks per minute per sending address (a provider has no client key), counted in Redis so
 * every replica shares the count. A callback must not be lost to a queue-Redis outage when the
 * ledger that stores it is elsewhere, so while that Redis fails each process counts alone instead
 * of refusing. No rate-limit headers: a wrong token must look exactly like an unknown path.
 */
function callbackRateLimit(deps: CallbackRouteDeps) {
  const local = localWindowCounter(WINDOW_MS);
  let degraded = false;
  return async (request: FastifyRequest) => {
    const key = `callback-ip:${request.ip}`;
    let count: number;
    if (!deps.rateLimitRedis) {
      count = local(key);
    } else {
      try {
        const redisKey = `${deps.rateLimitNameSpace ?? ''}${key}`;
        count = Number(await deps.rateLimitRedis.eval(COUNT_SCRIPT, 1, redisKey, WINDOW_MS));
        if (degraded) {
          degraded = false;
          request.log.info('callback rate limit counted in Redis again');
        }
      } catch (error) {
        if (!degraded) {
          degraded = true;
          request.log.warn(
            { err: String(error) },
            'callback rate limit: Redis failed; counting in this process until it answers again',
          );
        }
        count = local(key);
      }
    }
    // The same 429 as the other routes (the error handler builds it).
    if (count > deps.perMinute) throw Object.assign(new Error('rate limit exceeded'), { statusCode: 429 });
  };
}

/** Fixed windows per key in this process; returns the key's count in its window, this one included. */
function localWindowCounter(windowMs: number): (key: string) => number {
  const counts = new Map<string, { count: number; endsAt: number }>();
  return (key) => {
    const now = Date.now();
    let entry = counts.get(key);
    if (!entry || entry.endsAt <= now) {
      if (counts.size >= LOCAL_MAX_KEYS) {
        for (const [k, e] of counts) if (e.endsAt <= now) counts.delete(k);
        if (counts.size >= LOCAL_MAX_KEYS) counts.clear();
      }
      entry = { count: 0, endsAt: now + windowMs };
      counts.set(key, entry);
    }
    entry.count += 1;
    return entry.count;
  };
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

/**
 * The URL as it may be logged: whatever follows `callbacks/<provider>/` replaced, in any form the
 * URL may take (absolute-form, doubled slashes, dot segments, percent-encoded separators or
 * letters). The logger scrubs every line the same way; this keeps the field clean at the source.
 */
export function redactCallbackUrl(url: string): string {
  return redactCallbackPaths(url);
}
