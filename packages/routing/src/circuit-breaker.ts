import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export type BreakerState = 'closed' | 'open' | 'half_open';
export type BreakerOutcome = 'success' | 'failure';

export interface BreakerCheck {
  /** Whether this caller may send to the provider now. */
  readonly allowed: boolean;
  readonly state: BreakerState;
  /**
   * This caller holds the one half-open probe: its `record` decides whether the breaker closes or
   * opens again. Granted to one caller across all processes until it reports or its lease ends.
   */
  readonly probe: boolean;
}

/** What GET /v1/providers shows. Times are ISO-8601 from the Redis server clock. */
export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  /** When the breaker last opened from closed (kept while probes fail). */
  readonly openedAt?: string;
  /** Earliest time a `check` may be granted a probe (open: end of the wait; half-open: now or the end of the current probe's lease). */
  readonly nextProbeAt?: string;
  /** A probe has been handed out and has not reported yet. */
  readonly probeInFlight: boolean;
}

export interface CircuitBreaker {
  check(provider: string): Promise<BreakerCheck>;
  /**
   * Reports a call's outcome. Record provider-health failures (unreachable, timeout, 5xx), not an
   * order the provider refused for its own content. Returns the state after the report.
   */
  record(provider: string, outcome: BreakerOutcome): Promise<BreakerState>;
  snapshot(provider: string): Promise<BreakerSnapshot>;
}

export interface RedisCircuitBreakerOptions {
  /** Owned by the caller: never closed here. A Redis Cluster too: each script touches one key. */
  readonly redis: Redis | Cluster;
  /** Key prefix, e.g. `rechargeflow`; keys are `<prefix>:breaker:<provider>`. */
  readonly prefix: string;
  /** Consecutive failures in closed state that open the breaker (default 5). */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before it lets one probe through (default 30 s). */
  readonly openMs?: number;
  /** How long a probe may take to report before another caller gets to probe (default `openMs`). */
  readonly probeLeaseMs?: number;
}

/*
 * One hash per provider: `failures` (consecutive), and while open `openedAt`, `openUntil` and,
 * once a probe is out, `probeUntil` (its lease end). No `openUntil` means closed; `openUntil` in
 * the past means half-open. Every script reads the Redis server clock so all machines agree.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const CHECK = `${NOW}
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil'))
if not openUntil then return {'closed', 1, 0} end
if now < openUntil then return {'open', 0, 0} end
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil'))
if probeUntil and now < probeUntil then return {'half_open', 0, 0} end
redis.call('HSET', KEYS[1], 'probeUntil', now + tonumber(ARGV[1]))
return {'half_open', 1, 1}`;

const RECORD = `${NOW}
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil'))
if ARGV[1] == 'success' then
  if not openUntil then
    redis.call('HDEL', KEYS[1], 'failures')
    return 'closed'
  end
  -- A late answer to a call sent before the breaker opened: the wait still runs its course.
  if now < openUntil then return 'open' end
  redis.call('DEL', KEYS[1])
  return 'closed'
end
if not openUntil then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  if failures >= tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], 'openedAt', now, 'openUntil', now + tonumber(ARGV[3]))
    redis.call('HDEL', KEYS[1], 'probeUntil')
    return 'open'
  end
  return 'closed'
end
if now < openUntil then return 'open' end
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'openUntil', now + tonumber(ARGV[3]))
redis.call('HDEL', KEYS[1], 'probeUntil')
return 'open'`;

const SNAPSHOT = `${NOW}
local v = redis.call('HMGET', KEYS[1], 'failures', 'openedAt', 'openUntil', 'probeUntil')
return {now, v[1] or '0', v[2] or '', v[3] or '', v[4] or ''}`;

interface Script {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const SCRIPTS = { check: script(CHECK), record: script(RECORD), snapshot: script(SNAPSHOT) } as const;

/** EVALSHA, then EVAL on NOSCRIPT (the script did not run, so running it is safe). */
async function run(
  redis: Redis | Cluster,
  s: Script,
  key: string,
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, 1, key, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return redis.eval(s.lua, 1, key, ...args);
  }
}

const PROVIDER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name} must be a whole number above 0, got ${value}`);
  return value;
}

function iso(ms: string): string | undefined {
  return ms === '' ? undefined : new Date(Number(ms)).toISOString();
}

/**
 * A circuit breaker per provider, shared by every process through Redis: closed lets calls
 * through, `failureThreshold` consecutive failures open it for `openMs`, then exactly one caller
 * probes; the probe's success closes it, its failure opens it for another `openMs`.
 */
export function createRedisCircuitBreaker(options: RedisCircuitBreakerOptions): CircuitBreaker {
  const { redis, prefix } = options;
  const failureThreshold = positiveInt('failureThreshold', options.failureThreshold ?? 5);
  const openMs = positiveInt('openMs', options.openMs ?? 30_000);
  const probeLeaseMs = positiveInt('probeLeaseMs', options.probeLeaseMs ?? openMs);

  const keyOf = (provider: string): string => {
    if (!PROVIDER_NAME.test(provider)) throw new RangeError(`not a provider name: "${provider}"`);
    return `${prefix}:breaker:${provider}`;
  };

  return {
    async check(provider) {
      const [state, allowed, probe] = (await run(redis, SCRIPTS.check, keyOf(provider), [probeLeaseMs])) as [
        BreakerState,
        number,
        number,
      ];
      return { state, allowed: allowed === 1, probe: probe === 1 };
    },

    async record(provider, outcome) {
      if (outcome !== 'success' && outcome !== 'failure')
        throw new RangeError(`not an outcome: "${outcome}"`);
      const key = keyOf(provider);
      return (await run(redis, SCRIPTS.record, key, [outcome, failureThreshold, openMs])) as BreakerState;
    },

    async snapshot(provider) {
      const [now, failures, openedAt, openUntil, probeUntil] = (await run(
        redis,
        SCRIPTS.snapshot,
        keyOf(provider),
        [],
      )) as [number, string, string, string, string];
      const consecutiveFailures = Number(failures);
      if (openUntil === '') return { state: 'closed', consecutiveFailures, probeInFlight: false };
      const opened = iso(openedAt);
      const base = { consecutiveFailures, ...(opened !== undefined ? { openedAt: opened } : {}) };
      if (now < Number(openUntil)) {
        return { ...base, state: 'open', nextProbeAt: iso(openUntil)!, probeInFlight: false };
      }
      const probeInFlight = probeUntil !== '' && now < Number(probeUntil);
      return {
        ...base,
        state: 'half_open',
        nextProbeAt: new Date(probeInFlight ? Number(probeUntil) : now).toISOString(),
        probeInFlight,
      };
    },
  };
}
