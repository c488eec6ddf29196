/**
 * Rechargeflow's parts for one benchmark run, as real processes (`node apps/<app>/src/main.ts`)
 * under one unique Redis prefix: the simulator (as A1Topup), and any of the ingest API, N workers
 * and the poller. Also reads the ledger's state indexes directly (the Redis ledger's key layout:
 * `P:state:<s>:updated`, score = updatedAt ms).
 */

import { randomBytes } from 'node:crypto';
import { type OrderKey, type Paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore, type NewOrder } from '@rechargeflow/ledger';
import { JobProducer, rechargeJobId } from '@rechargeflow/queue';
import { WORKER_PROCESSES, workerQueuesOf } from '@rechargeflow/runtime';
import type { Redis } from 'ioredis';
import {
  freePort,
  PART_TIMEOUT_MS,
  type Part,
  providerEnv,
  startPart,
  startSimulator,
  stopAll,
  systemEnv,
  waitHttp,
} from './lib.ts';

/** The one client every benchmark's API key belongs to. */
export const BENCH_CLIENT = 'bench';

export interface SystemOptions {
  readonly prefix: string;
  readonly logDir: string;
  readonly api?: boolean;
  readonly workers?: number;
  /** A1TOPUP_CONCURRENCY of each worker process. */
  readonly workerConcurrency?: number;
  readonly poller?: Record<string, string> | undefined;
  /** Extra simulator environment (SIM_LATENCY_MS, SIM_PENDING_RATE, ...). */
  readonly simulator?: Record<string, string>;
  /** When set, the API, workers and poller run with --cpu-prof, writing `<label>.cpuprofile` here. */
  readonly profileDir?: string | undefined;
  /** Extra environment of the API. */
  readonly apiEnv?: Record<string, string>;
  /** Extra environment of each worker. */
  readonly workerEnv?: Record<string, string>;
}

export interface RunningSystem {
  readonly simUrl: string;
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly parts: readonly Part[];
  readonly workers: readonly Part[];
  readonly ledgerPrefix: string;
  /** CPU seconds so far by part (workers added up as `worker`). */
  cpu(): Record<string, number>;
  /** Stops every part; answers their CPU seconds by part (workers added up as `worker`). */
  stop(): Promise<Record<string, number>>;
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const parts: Part[] = [];
  const workers: Part[] = [];
  const common = systemEnv(options.prefix);
  const sim = await startSimulator(options.logDir, options.simulator);
  parts.push(sim.part);
  const apiKey = randomBytes(18).toString('base64url');
  // BENCH_API_NODE_FLAGS: Node flags added to the API's own (e.g. to try heap settings).
  const extraApiFlags = (process.env.BENCH_API_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const workerFlags =
    process.env.BENCH_WORKER_NODE_FLAGS === undefined
      ? WORKER_PROCESSES.worker.nodeFlags
      : process.env.BENCH_WORKER_NODE_FLAGS.split(' ').filter((flag) => flag !== '');
  const nodeFlags = (label: string) => [
    ...(label === 'api' ? extraApiFlags : []),
    // A worker starts with the flags `npm run start:worker`, `npm start` and the image give it
    // (BENCH_WORKER_NODE_FLAGS, when set, instead: e.g. '' for Node's own sizing).
    ...(label.startsWith('worker-') ? workerFlags : []),
    ...(options.profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${label}.cpuprofile`]
      : []),
  ];
  let apiUrl = '';
  try {
    if (options.api) {
      const port = await freePort();
      const api = startPart(
        'api',
        {
          ...common,
          PORT: String(port),
          API_KEYS: `${BENCH_CLIENT}:${apiKey}`,
          // The per-client limit (default 6,000 a minute) would be what is measured otherwise.
          RATE_LIMIT_PER_MINUTE: '1000000',
          ...options.apiEnv,
        },
        { logDir: options.logDir, nodeFlags: nodeFlags('api') },
      );
      parts.push(api);
      apiUrl = `http://127.0.0.1:${port}`;
      await waitHttp(`${apiUrl}/readyz`);
    }
    for (let i = 0; i < (options.workers ?? 0); i++) {
      const worker = startPart(
        'worker',
        {
          ...common,
          ...providerEnv(sim.url),
          A1TOPUP_CONCURRENCY: String(options.workerConcurrency ?? 20),
          // The recharge worker as the project starts it (CSV imports are the importer's).
          WORKER_QUEUES: workerQueuesOf('worker'),
          ...options.workerEnv,
        },
        { label: `worker-${i + 1}`, logDir: options.logDir, nodeFlags: nodeFlags(`worker-${i + 1}`) },
      );
      parts.push(worker);
      workers.push(worker);
    }
    for (const worker of workers) await worker.waitForLine(/recharge worker running/, PART_TIMEOUT_MS);
    if (options.poller) {
      const poller = startPoller(
        options.prefix,
        sim.url,
        options.logDir,
        options.poller,
        nodeFlags('poller'),
      );
      parts.push(poller);
      await poller.waitForLine(/poller running/, PART_TIMEOUT_MS);
    }
  } catch (error) {
    await stopAll(parts);
    throw error;
  }
  const byPart = (cpu: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const [name, seconds] of Object.entries(cpu)) {
      const key = name.startsWith('worker-') ? 'worker' : name;
      out[key] = (out[key] ?? 0) + seconds;
    }
    return out;
  };
  return {
    simUrl: sim.url,
    apiUrl,
    apiKey,
    parts,
    workers,
    ledgerPrefix: `${options.prefix}:ledger`,
    cpu: () => byPart(Object.fromEntries(parts.map((p) => [p.name, p.cpuSeconds()]))),
    stop: async () => byPart(await stopAll(parts)),
  };
}

/** The poller app against the simulator at `simUrl`, with extra environment (its settings). */
export function startPoller(
  prefix: string,
  simUrl: string,
  logDir: string,
  extra: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Part {
  return startPart(
    'poller',
    { ...systemEnv(prefix), ...providerEnv(simUrl), ...extra },
    { logDir, nodeFlags },
  );
}

/** How many orders are in `state` now (the ledger's per-state index). */
export function countInState(redis: Redis, ledgerPrefix: string, state: string): Promise<number> {
  return redis.zcard(`${ledgerPrefix}:state:${state}:updated`);
}

/** The latest `updatedAt` (ms) among the orders in `state`, or 0. */
export async function lastChangeIn(redis: Redis, ledgerPrefix: string, state: string): Promise<number> {
  const reply = await redis.zrange(`${ledgerPrefix}:state:${state}:updated`, '-1', '-1', 'WITHSCORES');
  return Number(reply[1] ?? 0);
}

export const ORDER_STATES = [
  'queued',
  'processing',
  'pending',
  'success',
  'failed',
  'manual_review',
] as const;

export async function stateCounts(redis: Redis, ledgerPrefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const state of ORDER_STATES) counts[state] = await countInState(redis, ledgerPrefix, state);
  return counts;
}

/** A recharge body the API accepts and the simulator completes (amount 10 is no magic amount). */
export function rechargeBody(orderId: string, i: number): string {
  return `{"orderId":"${orderId}","operator":"A","circle":"5","number":"${9_000_000_000 + (i % 999_999_999)}","amount":10}`;
}

/**
 * Writes `count` new orders straight into the run's Redis ledger (createOrders, 1,000 per call, as
 * a CSV import does) and, unless `enqueue` is false, queues their recharge jobs (enqueueBulk),
 * without the API. Answers the producer and the ledger (the caller closes both) and the keys.
 */
export async function prequeueOrders(
  redis: Redis,
  prefix: string,
  count: number,
  tag: string,
  enqueue = true,
): Promise<{ producer: JobProducer; ledger: LedgerStore; keys: OrderKey[] }> {
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  const producer = new JobProducer(redis, { prefix });
  const keys: OrderKey[] = [];
  const now = new Date().toISOString();
  for (let start = 0; start < count; start += 1_000) {
    const orders: NewOrder[] = [];
    for (let i = start; i < Math.min(count, start + 1_000); i++) {
      const key = { clientId: 'bench', orderId: `${tag}-${i}` };
      const request = {
        operator: 'A',
        circle: '5',
        number: String(9_000_000_000 + i),
        amount: 1_000 as Paise,
      };
      keys.push(key);
      orders.push({
        ...key,
        providerOrderId: providerOrderId(key, 1),
        provider: 'a1topup',
        route: ['a1topup'],
        request,
        fingerprint: requestFingerprint(request),
        now,
      });
    }
    await ledger.createOrders(orders);
    if (!enqueue) continue;
    await producer.enqueueBulk(
      'recharge',
      orders.map((o) => ({
        payload: { clientId: o.clientId, orderId: o.orderId },
        jobId: rechargeJobId(o, 'a1topup'),
      })),
      'a1topup',
    );
  }
  return { producer, ledger, keys };
}
