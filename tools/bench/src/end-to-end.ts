/**
 * `end-to-end` (and `memory`): the three pipelines of end-to-end-runs.ts (raw BullMQ no-op jobs,
 * the hand-written pipeline, Rechargeflow) run one after the other, `repeats` rounds, interleaved;
 * each round's figures per order in a table, ratios to the hand-written pipeline of the same round,
 * and the median of every figure over the rounds.
 */
import { jobOptions } from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import {
  type EndToEndOptions,
  handWrittenRun,
  PIPELINE_LABELS,
  PIPELINES,
  type Pipeline,
  type RunFigures,
  rawRun,
  rechargeflowRun,
} from './end-to-end-runs.ts';
import { fmt, type Row, say, type Table } from './lib.ts';

/** One run's figures per order (CPU in ms, memory in bytes): what the tables show. */
export interface PerOrder {
  readonly load: number;
  readonly seconds: number;
  readonly rate: number;
  /** rate / the hand-written pipeline's rate in the same round. */
  readonly ratio: number;
  readonly api: number;
  readonly workers: number;
  readonly redis: number;
  /** API + worker(s) + Redis. */
  readonly total: number;
  readonly simulator: number;
  readonly commands: number;
  readonly memory: number;
  readonly keysMemory: number;
}

const ms = (seconds: number) => seconds * 1000;

function perOrder(f: RunFigures, hand: RunFigures | undefined): PerOrder {
  const each = (seconds: number) => ms(seconds) / f.orders;
  return {
    load: f.load,
    seconds: f.seconds,
    rate: f.rate,
    ratio: hand ? f.rate / hand.rate : Number.NaN,
    api: each(f.apiCpu),
    workers: each(f.workersCpu),
    redis: each(f.redisCpu),
    total: each(f.apiCpu + f.workersCpu + f.redisCpu),
    simulator: each(f.simulatorCpu),
    commands: f.commands / f.orders,
    memory: f.memory / f.orders,
    keysMemory: f.keysMemory / f.orders,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const HEAD = [
  'pipeline',
  'load avg',
  's',
  'orders/s',
  '× hand-written',
  'CPU ms/order: API ¹',
  'worker(s)',
  'Redis',
  '**total**',
  'simulator ²',
  'Redis commands/order ³',
  'Redis B/order: used_memory Δ ⁴',
  "run's keys ⁴",
  'books ⁵',
];

function rowOf(pipeline: Pipeline, n: PerOrder, books: string): Row {
  const cpu = (v: number) => v.toFixed(3);
  return [
    PIPELINE_LABELS[pipeline],
    n.load.toFixed(2),
    n.seconds.toFixed(1),
    fmt(n.rate),
    pipeline === 'rf' ? `**${n.ratio.toFixed(2)}**` : n.ratio.toFixed(2),
    cpu(n.api),
    cpu(n.workers),
    cpu(n.redis),
    `**${cpu(n.total)}**`,
    pipeline === 'raw' ? '-' : cpu(n.simulator),
    n.commands.toFixed(1),
    fmt(n.memory),
    fmt(n.keysMemory),
    books,
  ];
}

export interface EndToEndRound {
  /** Start time, HH:MM UTC. */
  readonly at: string;
  readonly figures: Record<Pipeline, RunFigures>;
  readonly perOrder: Record<Pipeline, PerOrder>;
  readonly table: Table;
  readonly details: string[];
}

export interface EndToEndResult {
  readonly rounds: EndToEndRound[];
  /** Medians over the rounds, per pipeline (load: the median too). */
  readonly median: Record<Pipeline, PerOrder>;
  readonly medianTable: Table;
  readonly booksOk: boolean;
  readonly footnotes: string[];
}

function cpuText(f: RunFigures): string {
  const parts: [string, number][] = [
    [f.pipeline === 'raw' ? 'this process (adds)' : 'API', f.apiCpu],
    ['worker(s)', f.workersCpu],
    ['Redis', f.redisCpu],
  ];
  if (f.pipeline !== 'raw') parts.push(['simulator', f.simulatorCpu], ['load generator', f.loadGeneratorCpu]);
  return parts.map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ');
}

export async function endToEnd(redis: Redis, options: EndToEndOptions): Promise<EndToEndResult> {
  const rounds: EndToEndRound[] = [];
  for (let round = 1; round <= options.repeats; round++) {
    const at = new Date().toISOString().slice(11, 16);
    const of = `round ${round} of ${options.repeats}, ${fmt(options.orders)} orders`;
    say(`end-to-end: ${of}: raw BullMQ (no-op jobs)…`);
    const raw = await rawRun(redis, options);
    say(`  ${fmt(raw.rate)} jobs/s in ${raw.seconds.toFixed(1)} s`);
    say(`end-to-end: ${of}: hand-written pipeline…`);
    const hand = await handWrittenRun(redis, options);
    say(`  ${fmt(hand.rate)} orders/s in ${hand.seconds.toFixed(1)} s; ${hand.books}`);
    say(`end-to-end: ${of}: Rechargeflow…`);
    const rf = await rechargeflowRun(redis, options);
    say(`  ${fmt(rf.rate)} orders/s in ${rf.seconds.toFixed(1)} s; ${rf.books}`);
    const figures = { raw, hand, rf };
    const perOrderOf = {
      raw: perOrder(raw, hand),
      hand: perOrder(hand, hand),
      rf: perOrder(rf, hand),
    };
    rounds.push({
      at,
      figures,
      perOrder: perOrderOf,
      table: {
        head: HEAD,
        rows: PIPELINES.map((p) => rowOf(p, perOrderOf[p], figures[p].booksOk ? 'ok' : '**failed**')),
      },
      details: PIPELINES.map(
        (p) =>
          `- ${PIPELINE_LABELS[p]}: ${figures[p].note}; CPU s: ${cpuText(figures[p])}; ${figures[p].books}.`,
      ),
    });
  }
  const medianOf = (p: Pipeline): PerOrder => {
    const all = rounds.map((r) => r.perOrder[p]);
    const m = (key: keyof PerOrder) => median(all.map((n) => n[key]));
    return {
      load: m('load'),
      seconds: m('seconds'),
      rate: m('rate'),
      ratio: m('ratio'),
      api: m('api'),
      workers: m('workers'),
      redis: m('redis'),
      total: m('total'),
      simulator: m('simulator'),
      commands: m('commands'),
      memory: m('memory'),
      keysMemory: m('keysMemory'),
    };
  };
  const medians = { raw: medianOf('raw'), hand: medianOf('hand'), rf: medianOf('rf') };
  const booksOk = rounds.every((r) => PIPELINES.every((p) => r.figures[p].booksOk));
  const retention = JSON.stringify(jobOptions('recharge', 'id').removeOnComplete);
  return {
    rounds,
    median: medians,
    medianTable: {
      head: HEAD,
      rows: PIPELINES.map((p) =>
        rowOf(p, medians[p], `${rounds.filter((r) => r.figures[p].booksOk).length} of ${rounds.length} ok`),
      ),
    },
    booksOk,
    footnotes: [
      '¹ CPU per order, in ms: API = the API process (raw BullMQ: this process, which adds the jobs); worker(s) = the worker process(es); Redis = `INFO cpu` used_cpu_user + used_cpu_sys of the whole server; **total** = API + worker(s) + Redis. Processes from `/proc/<pid>/stat`. Less sensitive to the noise than wall time.',
      "² The simulator (the provider) and the HTTP load generator are not part of a pipeline's cost and not in the total; the load generator's CPU is in the lines under each table.",
      '³ `INFO commandstats` calls over the run, whole server: a script counts once for its EVALSHA and once per command it runs (BullMQ and the ledger are mostly scripts). The `INFO` calls that read the figures and this process\'s own "done yet?" probes (ZCARD, LLEN) are left out.',
      `⁴ Redis memory per final order, in bytes: \`INFO memory\` used_memory once every order is final and its job finished, minus before the first request (whole server: other clients count too); and \`MEMORY USAGE … SAMPLES 0\` summed over the run's keys then. Completed jobs are kept as each pipeline keeps them: raw BullMQ and Rechargeflow with the product's retention (\`removeOnComplete\` ${retention}, jobOptions in packages/queue), the hand-written pipeline removes them at once (\`removeOnComplete: true\`, as a user would). BullMQ's event stream (capped at ~10,000 entries) counts against every pipeline: divide by fewer orders and it weighs more.`,
      "⁵ Books: Rechargeflow — the simulator's books against the ledger (each charge once, on its own order's success; nothing sent twice; no success without a charge; every order sent in success); hand-written — the simulator received each order sent exactly once and charged it; raw BullMQ — every job completed.",
    ],
  };
}

export interface EndToEndReport {
  readonly title: string;
  /** What was run, in one sentence (after the machine, in the doc section's header). */
  readonly what: string;
  /** The median table (several rounds), then each round's table and lines. */
  readonly sections: { title: string; table: Table; lines: string[] }[];
  /** Footnotes, then the targets of issue 16 with their verdicts. */
  readonly after: string[];
}

const verdict = (met: boolean) => (met ? 'met' : '**missed**');
/** Issue 16's targets for Rechargeflow. */
const TARGETS = { ratio: 0.5, cpuMs: 0.6, commands: 45, memoryBytes: 1_536 } as const;

/** The tables and lines of an `end-to-end` (or, `memory` set, a `memory`) result. */
export function endToEndReport(
  result: EndToEndResult,
  options: EndToEndOptions,
  kind: { memory: boolean; memoryOrders: number },
): EndToEndReport {
  const { rf } = result.median;
  const sections: EndToEndReport['sections'] = [];
  if (!kind.memory)
    sections.push({
      title: `Median of ${result.rounds.length} round(s)`,
      table: result.medianTable,
      lines: [],
    });
  for (const [i, round] of result.rounds.entries())
    sections.push({ title: `Round ${i + 1} (${round.at} UTC)`, table: round.table, lines: round.details });
  const targets = kind.memory
    ? `Target: Redis memory per final order ≤ 1.5 KB after ${fmt(options.orders)} orders: used_memory Δ ${fmt(rf.memory)} B, run's keys ${fmt(rf.keysMemory)} B — ${verdict(rf.memory <= TARGETS.memoryBytes && rf.keysMemory <= TARGETS.memoryBytes)}.`
    : `Targets (issue 16, medians): end to end ≥ ${TARGETS.ratio}× the hand-written pipeline: ${rf.ratio.toFixed(2)} — ${verdict(rf.ratio >= TARGETS.ratio)}; CPU per order, API + worker(s) + Redis ≤ ${TARGETS.cpuMs} ms: ${rf.total.toFixed(3)} ms — ${verdict(rf.total <= TARGETS.cpuMs)}; Redis commands per order ≤ ${TARGETS.commands}: ${rf.commands.toFixed(1)} — ${verdict(rf.commands <= TARGETS.commands)}. (Memory per final order ≤ 1.5 KB: see the memory run, after ${fmt(kind.memoryOrders)} orders.)`;
  return {
    title: kind.memory
      ? `Redis memory per final order after ${fmt(options.orders)} orders`
      : 'End-to-end throughput: HTTP submit → final, against a hand-written pipeline',
    what: `${fmt(options.orders)} orders per pipeline and round, ${kind.memory ? 'one round' : `${result.rounds.length} round(s) (raw BullMQ, hand-written, Rechargeflow, interleaved)`}; ${options.clients} HTTP requests (raw BullMQ: adds) in flight; ${options.workers} worker process(es) per pipeline at concurrency ${options.concurrency}; simulator at 0 ms; every part a separate process, no poller.`,
    sections,
    after: [...result.footnotes, '', targets],
  };
}
