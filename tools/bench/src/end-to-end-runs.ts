/**
 * The three pipelines of `end-to-end` (and `memory`), each taking N orders from HTTP submit to
 * final on the same Redis, each run on an empty key prefix that is deleted afterwards:
 *
 * - raw BullMQ (context): this process adds N jobs shaped like recharge jobs (same id shape and
 *   options as JobProducer.enqueue), `clients` adds in flight; raw BullMQ Worker process(es)
 *   (raw-worker.ts) complete them with a no-op. Time: first add → last completion.
 * - hand-written pipeline (the yardstick: what a user would write instead): a Fastify `POST
 *   /v1/recharges` (raw-api.ts, `handWritten`: key compared, body checked by a JSON schema, one
 *   `Queue.add`, completed jobs removed at once), BullMQ worker process(es) (raw-worker.ts with a
 *   provider) at `concurrency`, each job one undici POST to the simulator's A1Topup
 *   `/recharge/api`. Same load generator, `clients` requests in flight. Time: first request → last
 *   completion.
 * - Rechargeflow: simulator, ingest API and worker process(es) (A1TOPUP_CONCURRENCY =
 *   `concurrency`) as real processes, product defaults. Time: first request → the last order's
 *   `success` in the ledger (its updatedAt, written by the worker).
 *
 * Both HTTP pipelines get the same simulator (apps/simulator, 0 ms, a fresh one per run). Each run
 * reports CPU per order by part (from /proc of the child processes; Redis from INFO cpu), Redis
 * commands per order (INFO commandstats, scripts' inner commands included; the INFO calls and this
 * process's own probes left out), Redis memory per final order (used_memory after every order is
 * final and its job done, minus before; and MEMORY USAGE of the run's keys), and ends with the
 * books check: Rechargeflow's simulator books against its ledger (testkit checkBooks), the
 * hand-written pipeline's simulator books against the N orders sent.
 */

import { JobProducer, jobOptions } from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import { handWrittenBooks, rechargeflowBooks } from './end-to-end-books.ts';
import { inLanes, jsonPoster, statusText } from './http-client.ts';
import {
  commandMix,
  deleteByPrefix,
  fmt,
  freePort,
  keysMemory,
  load1,
  PART_TIMEOUT_MS,
  REDIS_URL,
  redisMeter,
  runPrefix,
  SIM_PASSWORD,
  SIM_USER,
  say,
  startPart,
  startRawWorkers,
  startSimulator,
  until,
} from './lib.ts';
import { countInState, lastChangeIn, rechargeBody, startSystem, stateCounts } from './system.ts';

export const PIPELINES = ['raw', 'hand', 'rf'] as const;
export type Pipeline = (typeof PIPELINES)[number];
export const PIPELINE_LABELS: Record<Pipeline, string> = {
  raw: 'raw BullMQ, no-op jobs',
  hand: 'hand-written pipeline',
  rf: 'Rechargeflow',
};

export interface EndToEndOptions {
  readonly orders: number;
  /** HTTP requests (raw BullMQ: adds) in flight. */
  readonly clients: number;
  /** Jobs each worker process runs at once. */
  readonly concurrency: number;
  /** Worker processes of each pipeline. */
  readonly workers: number;
  /** Rounds of raw → hand-written → Rechargeflow. */
  readonly repeats: number;
  readonly logDir: string;
  /** A1TOPUP_RECHARGE_KEEP_ALIVE_MS of Rechargeflow's workers; undefined: the product's default. */
  readonly keepAliveMs?: number | undefined;
}

/** What one pipeline's run measured (CPU in seconds, memory in bytes, over the whole run). */
export interface RunFigures {
  readonly pipeline: Pipeline;
  readonly load: number;
  /** Orders (jobs) sent. */
  readonly orders: number;
  readonly seconds: number;
  /** Seconds until every add / HTTP answer was back. */
  readonly submitSeconds: number;
  readonly rate: number;
  /** The API process (raw BullMQ: this process, which adds the jobs). */
  readonly apiCpu: number;
  readonly workersCpu: number;
  readonly redisCpu: number;
  /** Not part of the pipeline's cost; 0 for raw BullMQ (no simulator). */
  readonly simulatorCpu: number;
  /** This process as HTTP load generator (0 for raw BullMQ: it is the API there). */
  readonly loadGeneratorCpu: number;
  readonly commands: number;
  readonly memory: number;
  readonly keysMemory: number;
  readonly booksOk: boolean;
  readonly books: string;
  readonly note: string;
}

/**
 * Redis commands this process sends while a run is metered (its probes for "done?"), counted so
 * that they can be taken out of the run's command count.
 */
class Probes {
  count = 0;
  readonly redis: Redis;
  constructor(redis: Redis) {
    this.redis = redis;
  }
  successes(ledgerPrefix: string): Promise<number> {
    this.count += 1;
    return countInState(this.redis, ledgerPrefix, 'success');
  }
  /** Jobs of the BullMQ queue still waiting or active. */
  async open(prefix: string, queue: string): Promise<number> {
    this.count += 2;
    const [waiting, active] = await Promise.all([
      this.redis.llen(`${prefix}:${queue}:wait`),
      this.redis.llen(`${prefix}:${queue}:active`),
    ]);
    return waiting + active;
  }
}

/** The client every order of the runs belongs to (the API key's client in startSystem). */
export const CLIENT = 'bench';
const QUEUE = 'recharges-a1topup';
const benchCpu = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

export async function rawRun(redis: Redis, options: EndToEndOptions): Promise<RunFigures> {
  const { orders, clients } = options;
  const prefix = runPrefix('e2e-raw');
  const load = load1();
  const producer = new JobProducer(redis, { prefix });
  const queue = producer.queue('recharges', 'a1topup');
  const consumers = await startRawWorkers(options.workers, {
    prefix,
    queue: queue.name,
    concurrency: options.concurrency,
    sleepMs: 0,
  });
  try {
    const meter = await redisMeter(redis);
    const cpu0 = process.cpuUsage();
    const workersCpu0 = consumers.cpuSeconds();
    const started = Date.now();
    await inLanes(orders, clients, async (i) => {
      await queue.add(
        'recharge',
        { clientId: CLIENT, orderId: `e2e-${i}` },
        jobOptions('recharge', `recharge-${i.toString(16).padStart(32, '0')}-a1topup`),
      );
    });
    const submitSeconds = (Date.now() - started) / 1000;
    await until(
      `${orders} completions`,
      async () => (consumers.completed() + consumers.failed() >= orders ? true : undefined),
      600_000,
    );
    const used = await meter();
    const apiCpu = benchCpu(cpu0);
    const workersCpu = consumers.cpuSeconds() - workersCpu0;
    const seconds = (consumers.lastAt() - started) / 1000;
    const completed = consumers.completed();
    const failed = consumers.failed();
    return {
      pipeline: 'raw',
      load,
      orders,
      seconds,
      submitSeconds,
      rate: completed / seconds,
      apiCpu,
      workersCpu,
      redisCpu: used.cpu,
      simulatorCpu: 0,
      loadGeneratorCpu: 0,
      commands: used.calls,
      memory: used.memory,
      keysMemory: await keysMemory(redis, prefix),
      booksOk: completed === orders && failed === 0,
      books: `${fmt(completed)} of ${fmt(orders)} jobs completed, ${fmt(failed)} failed`,
      note: `adds done after ${submitSeconds.toFixed(1)} s; commands/order: ${commandMix(used.byCommand, orders)}`,
    };
  } finally {
    await consumers.stop();
    await producer.close();
    await deleteByPrefix(redis, prefix);
  }
}

export async function handWrittenRun(redis: Redis, options: EndToEndOptions): Promise<RunFigures> {
  const { orders, clients } = options;
  const prefix = runPrefix('e2e-hand');
  const load = load1();
  const sim = await startSimulator(options.logDir);
  const apiKey = `hw-${prefix.slice(-8)}`;
  const stops: (() => Promise<unknown>)[] = [() => sim.part.stop(PART_TIMEOUT_MS)];
  try {
    const port = await freePort();
    const api = startPart(
      'raw-api.ts',
      { REDIS_URL, BENCH_API_KEY: apiKey },
      {
        label: 'hand-written-api',
        logDir: options.logDir,
        args: [JSON.stringify({ prefix, port, handWritten: true })],
      },
    );
    stops.push(() => api.stop(PART_TIMEOUT_MS));
    const consumers = await startRawWorkers(
      options.workers,
      {
        prefix,
        queue: QUEUE,
        concurrency: options.concurrency,
        sleepMs: 0,
        provider: { url: sim.url, username: SIM_USER, password: SIM_PASSWORD },
      },
      'hand-written-worker',
    );
    stops.push(() => consumers.stop());
    await api.waitForLine(/listening/, PART_TIMEOUT_MS);
    const poster = jsonPoster(`http://127.0.0.1:${port}`, { authorization: `Bearer ${apiKey}` }, clients);
    stops.push(async () => poster.close());
    const run = prefix.slice(-8);
    const orderIds = Array.from({ length: orders }, (_, i) => `hw-${run}-${i}`);

    const meter = await redisMeter(redis);
    const cpu0 = process.cpuUsage();
    const [api0, workers0, sim0] = [api.cpuSeconds(), consumers.cpuSeconds(), sim.part.cpuSeconds()];
    const started = Date.now();
    await inLanes(orders, clients, async (i) => {
      await poster.post('/v1/recharges', rechargeBody(orderIds[i] ?? '', i));
    });
    const submitSeconds = (Date.now() - started) / 1000;
    const accepted = poster.statuses.get(202) ?? 0;
    if (accepted !== orders)
      say(`  hand-written: not every order was accepted: ${statusText(poster.statuses)}`);
    await until(
      `${accepted} hand-written jobs done`,
      async () => (consumers.completed() + consumers.failed() >= accepted ? true : undefined),
      600_000,
    );
    const used = await meter();
    const loadGeneratorCpu = benchCpu(cpu0);
    const seconds = (consumers.lastAt() - started) / 1000;
    const figures = {
      apiCpu: api.cpuSeconds() - api0,
      workersCpu: consumers.cpuSeconds() - workers0,
      simulatorCpu: sim.part.cpuSeconds() - sim0,
    };
    const memoryOfKeys = await keysMemory(redis, prefix);
    const books = await handWrittenBooks(sim.url, orderIds);
    return {
      pipeline: 'hand',
      load,
      orders,
      seconds,
      submitSeconds,
      rate: consumers.completed() / seconds,
      ...figures,
      redisCpu: used.cpu,
      loadGeneratorCpu,
      commands: used.calls,
      memory: used.memory,
      keysMemory: memoryOfKeys,
      ...books,
      note: `HTTP answers done after ${submitSeconds.toFixed(1)} s (${statusText(poster.statuses)}); jobs ${fmt(consumers.completed())} completed, ${fmt(consumers.failed())} failed; commands/order: ${commandMix(used.byCommand, orders)}`,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await deleteByPrefix(redis, prefix);
  }
}

export async function rechargeflowRun(
  redis: Redis,
  options: EndToEndOptions,
  profileDir?: string,
): Promise<RunFigures> {
  const { orders, clients } = options;
  const prefix = runPrefix('e2e-rf');
  const load = load1();
  const system = await startSystem({
    prefix,
    logDir: options.logDir,
    api: true,
    workers: options.workers,
    workerConcurrency: options.concurrency,
    profileDir,
    workerEnv:
      options.keepAliveMs === undefined
        ? {}
        : { A1TOPUP_RECHARGE_KEEP_ALIVE_MS: String(options.keepAliveMs) },
  });
  const poster = jsonPoster(system.apiUrl, { authorization: `Bearer ${system.apiKey}` }, clients);
  const probes = new Probes(redis);
  try {
    const run = prefix.slice(-8);
    const orderIds = Array.from({ length: orders }, (_, i) => `e2e-${run}-${i}`);
    const meter = await redisMeter(redis);
    const cpuBefore = system.cpu();
    const cpu0 = process.cpuUsage();
    const started = Date.now();
    await inLanes(orders, clients, async (i) => {
      await poster.post('/v1/recharges', rechargeBody(orderIds[i] ?? '', i));
    });
    const submitSeconds = (Date.now() - started) / 1000;
    const accepted = poster.statuses.get(202) ?? 0;
    if (accepted !== orders)
      say(`  Rechargeflow: not every order was accepted: ${statusText(poster.statuses)}`);
    let last = -1;
    let lastMove = Date.now();
    await until(
      `${accepted} orders in success`,
      async () => {
        const done = await probes.successes(system.ledgerPrefix);
        if (done !== last) {
          last = done;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > 60_000) {
          throw new Error(
            `no progress for 60 s: ${JSON.stringify(await stateCounts(redis, system.ledgerPrefix))}`,
          );
        }
        return done >= accepted ? true : undefined;
      },
      1_800_000,
    );
    // The ledger says success before the worker completes (and BullMQ removes or keeps) the job.
    await until(
      'the recharge queue to drain',
      async () => ((await probes.open(prefix, QUEUE)) === 0 ? true : undefined),
      60_000,
    );
    const used = await meter();
    const loadGeneratorCpu = benchCpu(cpu0);
    const cpuAfter = system.cpu();
    const cpu = (part: string) => (cpuAfter[part] ?? 0) - (cpuBefore[part] ?? 0);
    const seconds = ((await lastChangeIn(redis, system.ledgerPrefix, 'success')) - started) / 1000;
    const memoryOfKeys = await keysMemory(redis, prefix);
    const counts = await stateCounts(redis, system.ledgerPrefix);
    const books = await rechargeflowBooks(redis, system.ledgerPrefix, system.simUrl, orderIds, CLIENT);
    return {
      pipeline: 'rf',
      load,
      orders,
      seconds,
      submitSeconds,
      rate: accepted / seconds,
      apiCpu: cpu('api'),
      workersCpu: cpu('worker'),
      redisCpu: used.cpu,
      simulatorCpu: cpu('simulator'),
      loadGeneratorCpu,
      commands: used.calls - probes.count,
      memory: used.memory,
      keysMemory: memoryOfKeys,
      ...books,
      note: `HTTP answers done after ${submitSeconds.toFixed(1)} s (${statusText(poster.statuses)}); ledger ${Object.entries(
        counts,
      )
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${fmt(n)}`)
        .join(', ')}; commands/order: ${commandMix(used.byCommand, orders)}`,
    };
  } finally {
    poster.close();
    await system.stop();
    await deleteByPrefix(redis, prefix);
  }
}
