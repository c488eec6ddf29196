import { Counter, Gauge, type Registry } from 'prom-client';
import type { Metrics } from './metrics.ts';

/**
 * Where the system-wide gauges read their values at scrape time. Shapes only: the apps wire them
 * to the queue, the ledger and the breaker, so this package imports none of them.
 */
export interface SystemSources {
  /** Job counts by BullMQ state and live workers, per queue. */
  readonly queues: () => Promise<
    readonly {
      readonly queue: string;
      readonly jobs: Readonly<Record<string, number>>;
      readonly workers: number;
    }[]
  >;
  /** Orders in a state now and the oldest last change among them (ISO, null when none). */
  readonly ordersIn: (
    state: 'pending' | 'manual_review',
  ) => Promise<{ readonly count: number; readonly oldestChangeAt: string | null }>;
  /** Latest balance sample per provider, in rupees (providers without one are left out). */
  readonly balances: () => Promise<readonly { readonly provider: string; readonly rupees: number }[]>;
  /** Circuit breaker state per provider. */
  readonly breakers: () => Promise<readonly { readonly provider: string; readonly state: string }[]>;
  /**
   * Memory of each Redis the system writes to, by role: `ledger`, `queue`, or `ledger+queue` when
   * one server holds both (never a URL). Absent: no Redis memory gauges.
   */
  readonly redisMemory?: () => Promise<readonly RedisMemorySample[]>;
  readonly now?: () => number;
}

export const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;

/** One Redis's memory (INFO): `maxBytes` 0 is no maxmemory, `systemBytes` 0 an unknown host size. */
export interface RedisMemorySample {
  readonly role: string;
  readonly usedBytes: number;
  readonly maxBytes: number;
  readonly systemBytes: number;
}

/**
 * Registers the gauges that describe the whole system rather than this process: queue depth by
 * state, workers alive, the pending backlog and its age, provider balances and breakers, Redis
 * memory. They are read from Redis/the ledger when scraped, so one process (the poller) exports
 * them; with several pollers the dashboards take `max` across them. A source that fails counts in
 * `rechargeflow_metrics_collect_errors_total` (alerted on) and leaves its gauges as they were (the
 * labelled ones empty for that scrape), so one broken source never turns the whole scrape into an
 * error, and never reads as "nothing pending".
 */
export function registerSystemGauges(
  metrics: Metrics,
  sources: SystemSources,
  onError: (source: string, error: unknown) => void = () => {},
): void {
  const registers = [metrics.registry];
  const now = sources.now ?? Date.now;
  const collectErrors = new Counter({
    name: 'rechargeflow_metrics_collect_errors_total',
    help: 'Scrapes in which a system gauge could not be read, by source (queues, orders, balances, breakers, redis_memory).',
    labelNames: ['source'],
    registers,
  });
  const guarded = async (source: string, read: () => Promise<void>) => {
    try {
      await read();
    } catch (error) {
      collectErrors.inc({ source });
      onError(source, error);
    }
  };

  // prom-client collects every family of a scrape at once: two families fed by one read share it.
  const queues = sharedRead(sources.queues);
  new Gauge({
    name: 'rechargeflow_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (waiting, prioritized, delayed, active, waiting-children, completed, failed).',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      await guarded('queues', async () => {
        for (const { queue, jobs } of await queues()) {
          for (const [state, count] of Object.entries(jobs)) this.set({ queue, state }, count);
        }
      });
    },
  });
  new Gauge({
    name: 'rechargeflow_queue_workers',
    help: 'Worker connections consuming each queue (all processes), as BullMQ sees them in the Redis client list.',
    labelNames: ['queue'],
    registers,
    async collect() {
      this.reset();
      // Errors are counted once, by rechargeflow_queue_jobs.
      const read = await queues().catch(() => []);
      for (const { queue, workers } of read) this.set({ queue }, workers);
    },
  });

  const backlog = (state: 'pending' | 'manual_review', name: string) => {
    const read = sharedRead(() => sources.ordersIn(state));
    new Gauge({
      name,
      help: `Orders in ${state} now, all clients and providers.`,
      registers,
      async collect() {
        await guarded('orders', async () => this.set((await read()).count));
      },
    });
    new Gauge({
      name: `${name}_oldest_age_seconds`,
      help: `Seconds since the oldest ${state} order last changed (0 when there is none).`,
      registers,
      async collect() {
        // A failed read keeps the last age rather than reporting 0: an outage of the ledger must
        // not look like an empty backlog (and clear the "pending too old" alert).
        const counted = await read().catch(() => undefined);
        if (!counted) return;
        const oldest = counted.oldestChangeAt;
        this.set(oldest === null ? 0 : Math.max(0, (now() - Date.parse(oldest)) / 1000));
      },
    });
  };
  backlog('pending', 'rechargeflow_pending_orders');
  backlog('manual_review', 'rechargeflow_manual_review_orders');

  new Gauge({
    name: 'rechargeflow_provider_balance',
    help: 'Latest sampled prepaid balance at each provider, in the provider currency (rupees for A1Topup).',
    labelNames: ['provider'],
    registers,
    async collect() {
      this.reset();
      await guarded('balances', async () => {
        for (const { provider, rupees } of await sources.balances()) this.set({ provider }, rupees);
      });
    },
  });

  new Gauge({
    name: 'rechargeflow_provider_breaker_state',
    help: 'Circuit breaker of each provider: 1 for its current state (closed, half_open, open), 0 for the others.',
    labelNames: ['provider', 'state'],
    registers,
    async collect() {
      this.reset();
      await guarded('breakers', async () => {
        for (const { provider, state } of await sources.breakers()) {
          for (const each of BREAKER_STATES) this.set({ provider, state: each }, each === state ? 1 : 0);
        }
      });
    },
  });

  if (sources.redisMemory) registerRedisMemoryGauges(registers, sources.redisMemory, guarded);
}

/**
 * Redis memory by role: used, maxmemory and the host's memory, read at scrape time (INFO). The alert
 * rules compare used with maxmemory (past it a noeviction Redis refuses every write: intake stops),
 * or, with no maxmemory, its growth with the host's memory. A failed read is counted and leaves the
 * last values, so an unreadable Redis never looks empty.
 */
function registerRedisMemoryGauges(
  registers: Registry[],
  read: () => Promise<readonly RedisMemorySample[]>,
  guarded: (source: string, read: () => Promise<void>) => Promise<void>,
): void {
  const shared = sharedRead(read);
  const families = [
    [
      'used',
      'usedBytes',
      'Bytes each Redis uses (INFO used_memory), by role: ledger, queue or ledger+queue.',
    ],
    [
      'max',
      'maxBytes',
      'maxmemory of each Redis (0: no limit), by role; at it a noeviction Redis refuses writes.',
    ],
    [
      'system',
      'systemBytes',
      "The host's memory as each Redis sees it (INFO total_system_memory; 0: unknown), by role.",
    ],
  ] as const;
  for (const [name, key, help] of families) {
    new Gauge({
      name: `rechargeflow_redis_memory_${name}_bytes`,
      help,
      labelNames: ['role'],
      registers,
      async collect() {
        const collect = async () => {
          const samples = await shared();
          this.reset();
          for (const sample of samples) this.set({ role: sample.role }, sample[key]);
        };
        // Errors are counted once, by the used-bytes family.
        if (name === 'used') await guarded('redis_memory', collect);
        else await collect().catch(() => undefined);
      },
    });
  }
}

/** One read for every caller while it is in flight; the next call after it settles reads again. */
function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    if (!inFlight) {
      const current = read();
      inFlight = current;
      const clear = () => {
        if (inFlight === current) inFlight = undefined;
      };
      current.then(clear, clear);
    }
    return inFlight;
  };
}
