/**
 * `worker`: recharge worker throughput against a provider answering after a fixed latency (the
 * simulator at SIM_LATENCY_MS; 50 ms unless BENCH_WORKER_LATENCIES_MS says more), one worker
 * process at each A1TOPUP_CONCURRENCY asked for (50, 200, 500 unless BENCH_WORKER_CONCURRENCIES).
 *
 * Orders are pre-queued straight into the ledger and the queue (createOrders + enqueueBulk, as a
 * CSV import does) with the queue paused; the worker starts, and the clock starts when the queue
 * is resumed. Time: resume → the last order's `success` in the ledger.
 * Compared with the ceiling concurrency / latency (every slot always waiting on the provider, no
 * other cost) and with a same-run baseline: a raw BullMQ Worker process at the same concurrency
 * whose jobs sleep as long (BullMQ's own cost at that concurrency, no provider call, no ledger).
 * The worker's CPU is also read for 3 s before the clock starts (idle: BullMQ's blocking waits,
 * lock renewals, metrics), so that CPU per order at a slow provider can be told from idle cost.
 */

import { JobProducer, jobOptions } from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import {
  deleteByPrefix,
  fmt,
  load1,
  redisMeter,
  runPrefix,
  say,
  sleep,
  startRawWorkers,
  type Table,
  until,
} from './lib.ts';
import { countInState, lastChangeIn, prequeueOrders, startSystem, stateCounts } from './system.ts';

/** How long the worker's idle CPU is read before each run's clock starts. */
const IDLE_SECONDS = 3;

export interface WorkerOptions {
  /** The provider's latency (SIM_LATENCY_MS) of each series of runs; default [50]. */
  readonly latenciesMs?: readonly number[] | undefined;
  readonly concurrencies: readonly number[];
  /**
   * One more run at this concurrency with A1TOPUP_RECHARGE_KEEP_ALIVE_MS 5000 (connection reuse),
   * at the first latency only.
   */
  readonly keepAliveAt?: number | undefined;
  /**
   * Orders per run; default by concurrency and latency: about 200 rounds of calls at 50 ms, and
   * at least 4 rounds at a slow provider (20 s of waiting: 80 orders at concurrency 20 and 5 s), at
   * most 12,000 (`--quick`: 1,000 and 3 rounds).
   */
  readonly orders?: number | undefined;
  readonly quick: boolean;
  readonly logDir: string;
}

interface Figures {
  readonly load: number;
  readonly seconds: number;
  readonly rate: number;
  readonly cpu: Record<string, number>;
  readonly redisCpu: number;
  /** Redis commands in the run (whole server: other clients count too); 0 for the baseline. */
  readonly redisCalls: number;
  /** The worker's CPU while idle, share of one core; 0 for the baseline. */
  readonly idleCpuShare: number;
}

/** Default orders of one run: `rounds` full rounds of `concurrency` calls (see WorkerOptions.orders). */
function ordersFor(concurrency: number, latencyMs: number, quick: boolean): number {
  const rounds = Math.min(200, Math.max(quick ? 3 : 4, Math.round((quick ? 5_000 : 20_000) / latencyMs)));
  return Math.min(quick ? 1_000 : 12_000, concurrency * rounds);
}

async function rawRun(
  redis: Redis,
  orders: number,
  concurrency: number,
  latencyMs: number,
): Promise<Figures> {
  const prefix = runPrefix('wrk-base');
  const load = load1();
  const producer = new JobProducer(redis, { prefix });
  const queue = producer.queue('recharges', 'a1topup');
  try {
    await queue.pause();
    for (let start = 0; start < orders; start += 1_000) {
      const jobs = [];
      for (let i = start; i < Math.min(orders, start + 1_000); i++) {
        jobs.push({
          name: 'recharge',
          data: { clientId: 'bench', orderId: `wrk-${i}` },
          opts: jobOptions('recharge', `recharge-${i.toString(16).padStart(32, '0')}-a1topup`),
        });
      }
      await queue.addBulk(jobs);
    }
    const consumers = await startRawWorkers(1, {
      prefix,
      queue: queue.name,
      concurrency,
      sleepMs: latencyMs,
    });
    try {
      const meter = await redisMeter(redis);
      const cpu0 = consumers.cpuSeconds();
      await queue.resume();
      const started = Date.now();
      await until(
        `${orders} completions`,
        async () => (consumers.completed() >= orders ? true : undefined),
        600_000,
      );
      const seconds = (consumers.lastAt() - started) / 1000;
      const { cpu: redisCpu } = await meter();
      return {
        load,
        seconds,
        rate: orders / seconds,
        cpu: { 'raw worker': consumers.cpuSeconds() - cpu0 },
        redisCpu,
        redisCalls: 0,
        idleCpuShare: 0,
      };
    } finally {
      await consumers.stop();
    }
  } finally {
    await producer.close();
    await deleteByPrefix(redis, prefix);
  }
}

async function systemRun(
  redis: Redis,
  orders: number,
  concurrency: number,
  latencyMs: number,
  logDir: string,
  keepAliveMs: number,
): Promise<Figures> {
  const prefix = runPrefix('wrk');
  const load = load1();
  const { producer, ledger } = await prequeueOrders(redis, prefix, orders, 'wrk');
  const queue = producer.queue('recharges', 'a1topup');
  await queue.pause();
  let system: Awaited<ReturnType<typeof startSystem>> | undefined;
  try {
    system = await startSystem({
      prefix,
      logDir,
      workers: 1,
      workerConcurrency: concurrency,
      simulator: { SIM_LATENCY_MS: String(latencyMs) },
      workerEnv: { A1TOPUP_RECHARGE_KEEP_ALIVE_MS: String(keepAliveMs) },
    });
    const idle0 = system.cpu().worker ?? 0;
    await sleep(IDLE_SECONDS * 1000);
    const cpu0 = system.cpu();
    const idleCpuShare = ((cpu0.worker ?? 0) - idle0) / IDLE_SECONDS;
    const meter = await redisMeter(redis);
    await queue.resume();
    const started = Date.now();
    let last = -1;
    let lastMove = Date.now();
    const ledgerPrefix = system.ledgerPrefix;
    await until(
      `${orders} orders in success`,
      async () => {
        const done = await countInState(redis, ledgerPrefix, 'success');
        if (done !== last) {
          last = done;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > 60_000) {
          throw new Error(`no progress for 60 s: ${JSON.stringify(await stateCounts(redis, ledgerPrefix))}`);
        }
        return done >= orders ? true : undefined;
      },
      1_800_000,
    );
    const seconds = ((await lastChangeIn(redis, ledgerPrefix, 'success')) - started) / 1000;
    const { cpu: redisCpu, calls: redisCalls } = await meter();
    const cpu1 = system.cpu();
    const cpu: Record<string, number> = {};
    for (const [name, s] of Object.entries(cpu1)) cpu[name] = s - (cpu0[name] ?? 0);
    return { load, seconds, rate: orders / seconds, cpu, redisCpu, redisCalls, idleCpuShare };
  } finally {
    await system?.stop();
    await producer.close();
    await ledger.close();
    await deleteByPrefix(redis, prefix);
  }
}

export interface WorkerResult {
  readonly runs: {
    latencyMs: number;
    concurrency: number;
    keepAliveMs: number;
    rate: number;
    ceiling: number;
    /** Worker CPU over the run, share of one core. */
    cpuShare: number;
    /** Worker CPU per order, ms (idle cost included). */
    cpuMsPerOrder: number;
    /** Worker CPU while idle, share of one core. */
    idleCpuShare: number;
  }[];
  readonly table: Table;
  readonly details: string[];
  readonly what: string;
}

export async function workerThroughput(redis: Redis, options: WorkerOptions): Promise<WorkerResult> {
  const rows: Table['rows'] = [];
  const details: string[] = [];
  const runs: WorkerResult['runs'] = [];
  const latencies = options.latenciesMs && options.latenciesMs.length > 0 ? options.latenciesMs : [50];
  const plan = latencies.flatMap((latencyMs) =>
    options.concurrencies.map((concurrency) => ({ latencyMs, concurrency, keepAliveMs: 0 })),
  );
  if (options.keepAliveAt)
    plan.push({ latencyMs: latencies[0] ?? 50, concurrency: options.keepAliveAt, keepAliveMs: 5_000 });
  for (const { latencyMs, concurrency, keepAliveMs } of plan) {
    const ceiling = concurrency / (latencyMs / 1000);
    const orders = options.orders ?? ordersFor(concurrency, latencyMs, options.quick);
    say(
      `worker: baseline, raw BullMQ worker sleeping ${latencyMs} ms, concurrency ${concurrency}, ${fmt(orders)} jobs…`,
    );
    const base = await rawRun(redis, orders, concurrency, latencyMs);
    say(`  ${fmt(base.rate)} jobs/s`);
    const reuse = keepAliveMs > 0 ? `, recharge keep-alive ${keepAliveMs} ms` : '';
    say(
      `worker: Rechargeflow worker, A1TOPUP_CONCURRENCY=${concurrency}${reuse}, provider ${latencyMs} ms, ${fmt(orders)} orders…`,
    );
    const rf = await systemRun(redis, orders, concurrency, latencyMs, options.logDir, keepAliveMs);
    say(`  ${fmt(rf.rate)} orders/s`);
    const workerCpu = rf.cpu.worker ?? 0;
    const cpuMsPerOrder = (workerCpu / orders) * 1000;
    runs.push({
      latencyMs,
      concurrency,
      keepAliveMs,
      rate: rf.rate,
      ceiling,
      cpuShare: workerCpu / rf.seconds,
      cpuMsPerOrder,
      idleCpuShare: rf.idleCpuShare,
    });
    rows.push([
      fmt(latencyMs),
      `${concurrency}${reuse}`,
      fmt(orders),
      `${base.load} / ${rf.load}`,
      fmt(ceiling, ceiling < 10 ? 1 : 0),
      fmt(base.rate, base.rate < 10 ? 1 : 0),
      fmt(rf.rate, rf.rate < 10 ? 1 : 0),
      `**${(rf.rate / ceiling).toFixed(2)}**`,
      (rf.rate / base.rate).toFixed(2),
      `${Math.round((workerCpu / rf.seconds) * 100)} %`,
      `${(rf.idleCpuShare * 100).toFixed(1)} %`,
      cpuMsPerOrder.toFixed(2),
    ]);
    details.push(
      `- ${latencyMs} ms, concurrency ${concurrency}${reuse}: Rechargeflow ${rf.seconds.toFixed(1)} s, CPU s: ${Object.entries(
        rf.cpu,
      )
        .map(([n, s]) => `${n} ${s.toFixed(1)}`)
        .join(
          ', ',
        )}, Redis ${rf.redisCpu.toFixed(1)}; Redis commands (whole server) ${fmt(rf.redisCalls)}, ${fmt(rf.redisCalls / orders, 1)} per order; baseline ${base.seconds.toFixed(1)} s, raw worker CPU ${(base.cpu['raw worker'] ?? 0).toFixed(1)} s, Redis ${base.redisCpu.toFixed(1)} s`,
    );
  }
  return {
    runs,
    table: {
      head: [
        'provider ms',
        'concurrency',
        'orders',
        'load avg (base / RF)',
        'ceiling orders/s',
        'baseline jobs/s',
        'RF orders/s',
        'RF / ceiling',
        'RF / baseline',
        'worker CPU (of one core)',
        'worker idle CPU',
        'worker CPU ms per order',
      ],
      rows,
    },
    details,
    what: `One worker process (A1TOPUP_CONCURRENCY as shown), the simulator answering every call after the latency shown (${latencies.join(', ')} ms), orders pre-queued. Ceiling = concurrency / latency. Baseline: a raw BullMQ Worker at the same concurrency whose jobs sleep as long. Worker idle CPU: read for ${IDLE_SECONDS} s before the clock starts (included in CPU per order).`,
  };
}
