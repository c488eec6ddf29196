import { positiveInt } from '@rechargeflow/config';
import type { CallbackStatus, RechargeProvider } from '@rechargeflow/domain';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

/**
 * One provider, everything the rest of the system needs to know about it: its name, its variables,
 * the credentials it cannot run without, its worker limits, how to build its client, how long one
 * recharge call may take, its callbacks and the request extension it owns. The registry
 * (`registry.ts`) lists the modules; config, the worker, the poller, the routing table and the
 * callback route read them from there, so a provider lives in its own folder and one registry line.
 */
export interface ProviderModule {
  /**
   * The provider's name: in PROVIDERS and routing tables, its queue (`recharges-<name>`), metrics
   * labels, the ledger, and its callback URL (`/callbacks/<name>/<token>`). Lower case, `a-z0-9_`.
   */
  readonly name: string;
  /** What it is, in a few words (docs, start-up lines). */
  readonly title: string;
  /**
   * Where it is and how to sign in: a zod shape of environment variables, each with a comment (read
   * by the worker and the poller, which build clients). Credentials are optional here unless the
   * provider is always required; `requiredWhenUsed` names the ones PROVIDERS makes mandatory. Name
   * a secret `<P>_PASSWORD`, `<P>_PIN` or `<P>_SECRET`: the logger cuts such values out by name.
   */
  readonly env: z.ZodRawShape;
  /** Variables that must be set when PROVIDERS includes this provider (checked on the raw env). */
  readonly requiredWhenUsed: readonly string[];
  /** The worker's settings for this provider: concurrency, rate limit, recharge keep-alive. */
  readonly limitsEnv: z.ZodRawShape;
  /** Reads `limitsEnv`'s parsed values (the defaults where a part does not read them). */
  limits(values: Readonly<Record<string, unknown>>): WorkerLimits;
  /**
   * Builds the client from `env`'s parsed values. Credentials were checked when the configuration
   * was parsed; the client checks its options again and names a bad one.
   */
  createClient(values: Readonly<Record<string, unknown>>, context: ClientContext): RechargeProvider;
  /**
   * The longest one recharge call of a client built with `timing` may take, in ms: whatever waits
   * for a call that died (the poller's stuck-order sweep) must wait longer.
   */
  worstCaseRechargeMs(timing: CallTiming): number;
  /** How it reports results later, when it does: the callback route and callback application read it. */
  readonly callbacks?: CallbackSpec | undefined;
  /**
   * The request extension it owns, when it takes orders no other provider can (Telgoo5's `telgoo5`
   * object under operator TELGOO5). The domain validates the extension; the routing table sends its
   * operator's orders to this provider only, and none of the others to it. Without one, the
   * provider takes the orders of the A1Topup operator catalogue.
   */
  readonly extension?: RequestExtension | undefined;
}

/** The call limits every client gets (PROVIDER_TIMEOUT_MS, PROVIDER_CONNECT_TIMEOUT_MS, …). */
export interface CallSettings {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxResponseBytes: number;
}

/** The part of the call settings that bounds how long a call may take. */
export type CallTiming = Pick<CallSettings, 'timeoutMs' | 'connectTimeoutMs'>;

/** One provider's worker settings. */
export interface WorkerLimits {
  /** Calls one worker process runs at once (the BullMQ worker's concurrency). */
  readonly concurrency: number;
  /** Calls per second across all workers; 0: no limit. */
  readonly ratePerSecond: number;
  /** Reuse an idle connection for a recharge for at most this many ms; 0: a fresh one each time. */
  readonly rechargeKeepAliveMs: number;
}

/** What a client is built with besides its own variables. */
export interface ClientContext {
  readonly call: CallSettings;
  /** The worker settings (their defaults in parts that make no recharges). */
  readonly limits: WorkerLimits;
  /** Redis shared by every process, for state they must share (Telgoo5's single-use tokens). */
  readonly redis: Redis | Cluster;
  /** Key prefix of that state (QUEUE_PREFIX). */
  readonly keyPrefix: string;
}

/**
 * A provider's callbacks: `GET|POST /callbacks/<name>/<token>` with these query or form parameters.
 * Only the named parameters are read and stored, never the URL, the token or anything else.
 */
export interface CallbackSpec {
  /** One line for the API documentation. */
  readonly summary: string;
  /** The parameter carrying each fact. */
  readonly parameters: {
    /** Our orderid for the attempt (required). */
    readonly providerOrderId: string;
    /** The provider's status text (required). */
    readonly status: string;
    /** The provider's or operator's reference (optional). */
    readonly providerRef?: string | undefined;
  };
  /** Completes "a callback needs …" when a required parameter is missing. */
  readonly needs: string;
  /** What a status text reports; `undefined`: none of the provider's statuses (kept, not applied). */
  status(text: string): CallbackStatus | undefined;
  /** The status texts it sends, for notes: e.g. `Success, Failure or Pending`. */
  readonly statusWords: string;
}

/** A part of the recharge request only one provider understands (validated by the domain). */
export interface RequestExtension {
  /** The operator code whose orders carry it, e.g. `TELGOO5`. */
  readonly operator: string;
  /** The request field that holds it, also the routing table's service name for these orders. */
  readonly field: string;
  /** Inclusive amount limits of its orders, in minor units (the domain's). */
  readonly amountBounds: { readonly min: number; readonly max: number };
}

const blank = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** Provider call settings shared by every provider (worker and poller). */
export const providerCallEnvShape = {
  /** Total time a provider call may take; after it the outcome is ambiguous (pending). */
  PROVIDER_TIMEOUT_MS: positiveInt(20_000, 300_000),
  /** Time to establish the connection; failing here proves the request was not sent. */
  PROVIDER_CONNECT_TIMEOUT_MS: positiveInt(5_000, 60_000),
  /** Largest provider answer read; a larger one is ambiguous. */
  PROVIDER_MAX_RESPONSE_BYTES: positiveInt(65_536, 10_485_760),
};

/**
 * The worker settings of one provider, named after its variable prefix: `<P>_CONCURRENCY`,
 * `<P>_RATE_PER_SECOND`, `<P>_RECHARGE_KEEP_ALIVE_MS`.
 */
export function workerLimitsEnv(
  prefix: string,
  defaults: {
    readonly concurrency: number;
    /** `<P>_RECHARGE_KEEP_ALIVE_MS` when unset (0: a fresh connection per recharge). */
    readonly rechargeKeepAliveMs?: number;
  },
) {
  return {
    /** Calls to this provider one worker process runs at once. */
    [`${prefix}_CONCURRENCY`]: positiveInt(defaults.concurrency, 1_000),
    /** Calls to this provider per second across all workers; 0 = no limit. */
    [`${prefix}_RATE_PER_SECOND`]: z.preprocess(
      blank,
      z.coerce.number({ error: 'must be a number' }).int().min(0, 'must be 0 or more').default(0),
    ),
    /**
     * Reuse an idle connection to this provider for the next recharge for at most this many ms
     * (0 = a fresh connection for every recharge; at most 60 000; the default is the provider's:
     * A1Topup 1 000, Telgoo5 0). Saves a TCP/TLS handshake per recharge, but a connection the
     * provider closes at the same moment makes that recharge ambiguous instead of provably not
     * sent: keep it well below the provider's own idle timeout, and at 0 for a provider without a
     * status API (an ambiguous recharge waits for a person).
     */
    [`${prefix}_RECHARGE_KEEP_ALIVE_MS`]: z.preprocess(
      blank,
      z.coerce
        .number({ error: 'must be a number' })
        .int('must be a whole number of milliseconds')
        .min(0, 'must be 0 or more')
        .max(60_000, 'must be at most 60000 (one minute)')
        .default(defaults.rechargeKeepAliveMs ?? 0),
    ),
  };
}

/** Reads the values of `workerLimitsEnv(prefix, …)`. */
export function workerLimitsOf(prefix: string, values: Readonly<Record<string, unknown>>): WorkerLimits {
  return {
    concurrency: values[`${prefix}_CONCURRENCY`] as number,
    ratePerSecond: values[`${prefix}_RATE_PER_SECOND`] as number,
    rechargeKeepAliveMs: values[`${prefix}_RECHARGE_KEEP_ALIVE_MS`] as number,
  };
}

/** An optional text variable: blank counts as unset. */
export function optionalText() {
  return z.preprocess(blank, z.string().optional());
}

/** A text variable of a parsed section: '' when unset (the client then names it as required). */
export function text(values: Readonly<Record<string, unknown>>, name: string): string {
  const value = values[name];
  return typeof value === 'string' ? value : '';
}
