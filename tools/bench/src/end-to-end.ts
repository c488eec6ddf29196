/**
 * `end-to-end`: orders per second from HTTP submit to `success` in the ledger, against raw BullMQ
 * add + process of the same number of no-op jobs, measured in the same run on the same Redis.
 *
 * - Baseline: this process adds N jobs shaped like recharge jobs (same job id shape and options as
 *   JobProducer.enqueue), one `Queue.add` per job with `clients` adds in flight (as the API adds
 *   one job per request); `workers` raw BullMQ Worker processes (tools/bench/src/raw-worker.ts) at
 *   `concurrency` each complete them with a no-op. Time: first add → last completion.
 * - Rechargeflow: simulator (0 ms latency), ingest API and `workers` worker processes
 *   (A1TOPUP_CONCURRENCY = `concurrency`) as real processes; this process POSTs N orders to
 *   /v1/recharges (keep-alive, `clients` in flight). Time: first request → the last order's
 *   `success` in the ledger (its updatedAt, written by the worker).
 * Each run starts on an empty prefix and deletes its keys afterwards.
 */
import { availableParallelism } from 'node:os';
import { JobProducer, jobOptions } from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import { inLanes, jsonPoster, statusText } from './http-client.ts';
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
import { countInState, lastChangeIn, rechargeBody, startSystem, stateCounts } from './system.ts';

export interface EndToEndRun {
  readonly workers: number;
  /** A1TOPUP_RECHARGE_KEEP_ALIVE_MS of the workers (default 0: a fresh connection per recharge). */
  readonly keepAliveMs?: number;
}

export interface EndToEndOptions {
  readonly orders: number;
  /** HTTP requests (baseline: adds) in flight. */
  readonly clients: number;
  /** Jobs each worker process runs at once. */
  readonly concurrency: number;
  /** The Rechargeflow runs, each after its own baseline: worker processes, and recharge keep-alive. */
  readonly runs: readonly EndToEndRun[];
  readonly logDir: string;
  /** When set, the Rechargeflow runs' API and workers write CPU profiles here. */
  readonly profileDir?: string | undefined;
  /** Skip the baseline (profiling runs). */
  readonly skipBaseline?: boolean;
}

export interface RunFigures {
  readonly load: number;
  readonly seconds: number;
  readonly rate: number;
  /** Seconds until every add / HTTP answer was back. */
  readonly submitSeconds: number;
  readonly cpu: Record<string, number>;
  readonly redisCpu: number;
  readonly redisCalls: number;
  readonly note: string;
}

const CLIENT = 'bench';

export async function baselineRun(
  redis: Redis,
  orders: number,
  workers: number,
  concurrency: number,
  clients: number,
  sleepMs = 0,
): Promise<RunFigures> {
  const prefix = runPrefix('e2e-base');
  const load = load1();
  const producer = new JobProducer(redis, { prefix });
  const queue = producer.queue('recharges', 'a1topup');
  const consumers = await startRawWorkers(workers, {
    prefix,
    queue: queue.name,
    concurrency,
    sleepMs,
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
      async () => (consumers.completed() >= orders ? true : undefined),
      600_000,
    );
    const seconds = (consumers.lastAt() - started) / 1000;
    const benchCpu = process.cpuUsage(cpu0);
    const { cpu: redisCpu, calls } = await meter();
    return {
      load,
      seconds,
      rate: orders / seconds,
      submitSeconds,
      cpu: {
        'bench (adds)': (benchCpu.user + benchCpu.system) / 1e6,
        'raw workers': consumers.cpuSeconds() - workersCpu0,
      },
      redisCpu,
      redisCalls: calls,
      note: `${fmt(consumers.completed())} completed`,
    };
  } finally {
    await consumers.stop();
    await producer.close();
    await deleteByPrefix(redis, prefix);
  }
}

export async function systemRun(
  redis: Redis,
  orders: number,
  workers: number,
  concurrency: number,
  clients: number,
  logDir: string,
  profileDir?: string,
  keepAliveMs = 0,
): Promise<RunFigures> {
  const prefix = runPrefix('e2e');
  const load = load1();
  const system = await startSystem({
    prefix,
    logDir,
    api: true,
    workers,
    workerConcurrency: concurrency,
    profileDir,
    workerEnv: { A1TOPUP_RECHARGE_KEEP_ALIVE_MS: String(keepAliveMs) },
  });
  const poster = jsonPoster(system.apiUrl, { authorization: `Bearer ${system.apiKey}` }, clients);
  try {
    const cpuBefore = system.cpu();
    const meter = await redisMeter(redis);
    const cpu0 = process.cpuUsage();
    const run = prefix.slice(-8);
    const started = Date.now();
    await inLanes(orders, clients, async (i) => {
      await poster.post('/v1/recharges', rechargeBody(`e2e-${run}-${i}`, i));
    });
    const submitSeconds = (Date.now() - started) / 1000;
    const accepted = poster.statuses.get(202) ?? 0;
    if (accepted !== orders)
      say(`  end-to-end: not every order was accepted: ${statusText(poster.statuses)}`);
    let last = -1;
    let lastMove = Date.now();
    await until(
      `${accepted} orders in success`,
      async () => {
        const done = await countInState(redis, system.ledgerPrefix, 'success');
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
    const seconds = ((await lastChangeIn(redis, system.ledgerPrefix, 'success')) - started) / 1000;
    const benchCpu = process.cpuUsage(cpu0);
    const { cpu: redisCpu, calls } = await meter();
    const cpuAfter = system.cpu();
    const counts = await stateCounts(redis, system.ledgerPrefix);
    const cpu: Record<string, number> = { 'bench (HTTP client)': (benchCpu.user + benchCpu.system) / 1e6 };
    for (const [name, total] of Object.entries(cpuAfter)) cpu[name] = total - (cpuBefore[name] ?? 0);
    return {
      load,
      seconds,
      rate: accepted / seconds,
      submitSeconds,
      cpu,
      redisCpu,
      redisCalls: calls,
      note: `HTTP ${statusText(poster.statuses)}; ledger ${Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${fmt(n)}`)
        .join(', ')}`,
    };
  } finally {
    poster.close();
    await system.stop();
    await deleteByPrefix(redis, prefix);
  }
}

/**
 * CPU per order of what is measured: baseline = the adding process + raw workers + Redis;
 * Rechargeflow = API + workers + Redis (the simulator and the HTTP load generator left out).
 */
function cpuPerOrder(figures: RunFigures, orders: number): string {
  return ownCpuMs(figures, orders).toFixed(2);
}

const isPeer = (name: string) => name.startsWith('simulator') || name.startsWith('bench (HTTP');

/** ms of CPU per order of the measured processes (see cpuPerOrder). */
function ownCpuMs(figures: RunFigures, orders: number): number {
  const own = Object.entries(figures.cpu)
    .filter(([name]) => !isPeer(name))
    .reduce((sum, [, s]) => sum + s, 0);
  return ((own + figures.redisCpu) / orders) * 1000;
}

/**
 * What the 50 % target leaves per order when every process shares this machine's cores: the CPU
 * budget at half the baseline's rate, minus what the HTTP peers (simulator, load generator) took.
 */
function budgetText(base: RunFigures, rf: RunFigures, orders: number, tag: string): string {
  const cores = availableParallelism();
  const targetRate = base.rate / 2;
  const budget = (cores * 1000) / targetRate;
  const peers =
    (Object.entries(rf.cpu)
      .filter(([name]) => isPeer(name))
      .reduce((sum, [, s]) => sum + s, 0) /
      orders) *
    1000;
  const left = budget - peers;
  const own = ownCpuMs(rf, orders);
  return `- ${tag}, CPU budget of the target: ${cores} cores at ${fmt(targetRate)} orders/s (half the baseline) allow ${budget.toFixed(2)} ms of CPU per order for everything on the machine; the simulator and the HTTP load generator took ${peers.toFixed(2)} ms, leaving ${left.toFixed(2)} ms for API + worker(s) + Redis, which took ${own.toFixed(2)} ms (${left > 0 ? `${(own / left).toFixed(1)}× the budget` : 'no budget left at all'}); the baseline's own adds, no-op processing and Redis took ${ownCpuMs(base, orders).toFixed(2)} ms.`;
}

function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([name, s]) => `${name} ${s.toFixed(1)}`)
    .join(', ');
}

export interface EndToEndResult {
  readonly table: Table;
  readonly details: string[];
  readonly ratios: { label: string; ratio: number }[];
}

export async function endToEnd(redis: Redis, options: EndToEndOptions): Promise<EndToEndResult> {
  const { orders, clients, concurrency } = options;
  const rows: Table['rows'] = [];
  const details: string[] = [];
  const ratios: { label: string; ratio: number }[] = [];
  for (const { workers, keepAliveMs = 0 } of options.runs) {
    const label = `${workers} worker process${workers > 1 ? 'es' : ''}${keepAliveMs > 0 ? `, recharge keep-alive ${keepAliveMs} ms` : ''}`;
    const tag = `${workers} worker(s)${keepAliveMs > 0 ? ' with keep-alive' : ''}`;
    let base: RunFigures | undefined;
    if (!options.skipBaseline) {
      say(`end-to-end: baseline, raw BullMQ, ${workers} worker process(es), ${fmt(orders)} jobs…`);
      base = await baselineRun(redis, orders, workers, concurrency, clients);
      say(`  ${fmt(base.rate)} jobs/s in ${base.seconds.toFixed(1)} s`);
    }
    say(`end-to-end: Rechargeflow, ${label}, ${fmt(orders)} orders…`);
    const rf = await systemRun(
      redis,
      orders,
      workers,
      concurrency,
      clients,
      options.logDir,
      options.profileDir,
      keepAliveMs,
    );
    say(`  ${fmt(rf.rate)} orders/s in ${rf.seconds.toFixed(1)} s`);
    const ratio = base ? rf.rate / base.rate : Number.NaN;
    ratios.push({ label: tag, ratio });
    rows.push([
      label,
      fmt(orders),
      base ? `${base.load} / ${rf.load}` : `${rf.load}`,
      base ? base.seconds.toFixed(1) : '-',
      base ? fmt(base.rate) : '-',
      rf.seconds.toFixed(1),
      rf.submitSeconds.toFixed(1),
      fmt(rf.rate),
      base ? `**${ratio.toFixed(2)}**` : '-',
      base ? `${cpuPerOrder(base, orders)} / ${cpuPerOrder(rf, orders)}` : cpuPerOrder(rf, orders),
      base ? `${base.redisCpu.toFixed(1)} / ${rf.redisCpu.toFixed(1)}` : rf.redisCpu.toFixed(1),
      base
        ? `${(base.redisCalls / orders).toFixed(1)} / ${(rf.redisCalls / orders).toFixed(1)}`
        : (rf.redisCalls / orders).toFixed(1),
    ]);
    if (base) {
      details.push(
        `- ${tag}, baseline: adds done after ${base.submitSeconds.toFixed(1)} s; CPU s: ${cpuText(base.cpu)}; ${base.note}`,
      );
    }
    details.push(
      `- ${tag}, Rechargeflow: HTTP answers done after ${rf.submitSeconds.toFixed(1)} s; CPU s: ${cpuText(rf.cpu)}; ${rf.note}`,
    );
    if (base) details.push(budgetText(base, rf, orders, tag));
  }
  details.push(
    '',
    '¹ CPU of the measured processes per order: baseline = the adding process + raw BullMQ workers + Redis; Rechargeflow = API + workers + Redis (simulator and HTTP load generator left out). Less sensitive to the noise than wall time.',
    '² `INFO commandstats` calls, including the commands run inside Lua scripts (BullMQ and the ledger are mostly scripts), whole server.',
  );
  return {
    table: {
      head: [
        'run',
        'orders',
        'load avg (base / RF)',
        'baseline s',
        'baseline jobs/s',
        'RF s',
        'RF submit s',
        'RF orders/s',
        'RF / baseline',
        'CPU ms per order (base / RF) ¹',
        'Redis CPU s (base / RF)',
        'Redis commands per order ² (base / RF)',
      ],
      rows,
    },
    details,
    ratios,
  };
}
