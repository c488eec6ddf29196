/**
 * `worker`: recharge worker throughput against a provider answering in 50 ms (the simulator at
 * SIM_LATENCY_MS=50), one worker process at A1TOPUP_CONCURRENCY 50, 200 and 500.
 *
 * Orders are pre-queued straight into the ledger and the queue (createOrders + enqueueBulk, as a
 * CSV import does) with the queue paused; the worker starts, and the clock starts when the queue
 * is resumed. Time: resume → the last order's `success` in the ledger.
 * Compared with the ceiling concurrency / 0.05 s (every slot always waiting on the provider, no
 * other cost) and with a same-run baseline: a raw BullMQ Worker process at the same concurrency
 * whose jobs sleep 50 ms (BullMQ's own cost at that concurrency, no provider call, no ledger).
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
  startRawWorkers,
  type Table,
  until,
} from './lib.ts';
import { countInState, lastChangeIn, prequeueOrders, startSystem, stateCounts } from './system.ts';

const LATENCY_MS = 50;

export interface WorkerOptions {
  readonly concurrencies: readonly number[];
  /** One more run at this concurrency with A1TOPUP_RECHARGE_KEEP_ALIVE_MS 5000 (connection reuse). */
  readonly keepAliveAt?: number | undefined;
  /** Orders per run; default by concurrency (about 15-20 s of work on this machine). */
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
}

async function rawRun(redis: Redis, orders: number, concurrency: number): Promise<Figures> {
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
      sleepMs: LATENCY_MS,
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
      simulator: { SIM_LATENCY_MS: String(LATENCY_MS) },
      workerEnv: { A1TOPUP_RECHARGE_KEEP_ALIVE_MS: String(keepAliveMs) },
    });
    const cpu0 = system.cpu();
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
    const { cpu: redisCpu } = await meter();
    const cpu1 = system.cpu();
    const cpu: Record<string, number> = {};
    for (const [name, s] of Object.entries(cpu1)) cpu[name] = s - (cpu0[name] ?? 0);
    return { load, seconds, rate: orders / seconds, cpu, redisCpu };
  } finally {
    await system?.stop();
    await producer.close();
    await ledger.close();
    await deleteByPrefix(redis, prefix);
  }
}

export interface WorkerResult {
  readonly runs: {
    concurrency: number;
    keepAliveMs: number;
    rate: number;
    ceiling: number;
    cpuShare: number;
  }[];
  readonly table: Table;
  readonly details: string[];
  readonly what: string;
}

export async function workerThroughput(redis: Redis, options: WorkerOptions): Promise<WorkerResult> {
  const rows: Table['rows'] = [];
  const details: string[] = [];
  const runs: WorkerResult['runs'] = [];
  const plan = options.concurrencies.map((concurrency) => ({ concurrency, keepAliveMs: 0 }));
  if (options.keepAliveAt) plan.push({ concurrency: options.keepAliveAt, keepAliveMs: 5_000 });
  for (const { concurrency, keepAliveMs } of plan) {
    const ceiling = concurrency / (LATENCY_MS / 1000);
    const orders = options.orders ?? (options.quick ? 1_000 : Math.min(concurrency * 200, 12_000));
    say(
      `worker: baseline, raw BullMQ worker sleeping ${LATENCY_MS} ms, concurrency ${concurrency}, ${fmt(orders)} jobs…`,
    );
    const base = await rawRun(redis, orders, concurrency);
    say(`  ${fmt(base.rate)} jobs/s`);
    const reuse = keepAliveMs > 0 ? `, recharge keep-alive ${keepAliveMs} ms` : '';
    say(
      `worker: Rechargeflow worker, A1TOPUP_CONCURRENCY=${concurrency}${reuse}, provider ${LATENCY_MS} ms, ${fmt(orders)} orders…`,
    );
    const rf = await systemRun(redis, orders, concurrency, options.logDir, keepAliveMs);
    say(`  ${fmt(rf.rate)} orders/s`);
    const workerCpu = rf.cpu.worker ?? 0;
    runs.push({ concurrency, keepAliveMs, rate: rf.rate, ceiling, cpuShare: workerCpu / rf.seconds });
    rows.push([
      `${concurrency}${reuse}`,
      fmt(orders),
      `${base.load} / ${rf.load}`,
      fmt(ceiling),
      fmt(base.rate),
      fmt(rf.rate),
      `**${(rf.rate / ceiling).toFixed(2)}**`,
      (rf.rate / base.rate).toFixed(2),
      `${Math.round((workerCpu / rf.seconds) * 100)} %`,
      ((workerCpu / orders) * 1000).toFixed(2),
    ]);
    details.push(
      `- concurrency ${concurrency}${reuse}: Rechargeflow ${rf.seconds.toFixed(1)} s, CPU s: ${Object.entries(
        rf.cpu,
      )
        .map(([n, s]) => `${n} ${s.toFixed(1)}`)
        .join(
          ', ',
        )}, Redis ${rf.redisCpu.toFixed(1)}; baseline ${base.seconds.toFixed(1)} s, raw worker CPU ${(base.cpu['raw worker'] ?? 0).toFixed(1)} s, Redis ${base.redisCpu.toFixed(1)} s`,
    );
  }
  return {
    runs,
    table: {
      head: [
        'concurrency',
        'orders',
        'load avg (base / RF)',
        'ceiling orders/s',
        'baseline jobs/s',
        'RF orders/s',
        'RF / ceiling',
        'RF / baseline',
        'worker CPU (of one core)',
        'worker CPU ms per order',
      ],
      rows,
    },
    details,
    what: `One worker process (A1TOPUP_CONCURRENCY as shown), the simulator answering every call after ${LATENCY_MS} ms, orders pre-queued. Ceiling = concurrency / ${LATENCY_MS / 1000} s. Baseline: a raw BullMQ Worker at the same concurrency whose jobs sleep ${LATENCY_MS} ms.`,
  };
}
