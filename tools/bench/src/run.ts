/**
 * `npm run bench [-- <name>...] [--write] [--quick] [--profile]`: Rechargeflow's benchmarks, each
 * against a baseline measured in the same run on the same Redis (this machine is noisy).
 *
 *   end-to-end    HTTP submit → `success` in the ledger vs raw BullMQ add + no-op process
 *   ingest        API latency at a fixed 1,000 req/s (autocannon), API + Redis only, then with a
 *                 worker draining; vs a bare Fastify route doing one raw BullMQ add
 *   worker        worker throughput against a 50 ms provider at concurrency 50, 200, 500, vs the
 *                 ceiling concurrency / 0.05 s and a raw BullMQ worker sleeping 50 ms per job
 *   poller-sweep  100,000 due pending orders swept by the poller's status checks, vs the same
 *                 status calls made straight to the provider
 *
 * No name: all four. `--write` updates each one's section of docs/benchmarks.md. `--quick`: small
 * sizes (for development; never written). `--profile`: the end-to-end run once more with
 * `--cpu-prof` on the API and worker, summarised (tools/bench/src/profile-summary.ts).
 * Knobs (environment): REDIS_URL, BENCH_E2E_ORDERS, BENCH_E2E_CLIENTS, BENCH_E2E_CONCURRENCY,
 * BENCH_INGEST_SECONDS, BENCH_INGEST_RATE, BENCH_INGEST_REPEATS, BENCH_WORKER_ORDERS, BENCH_SWEEP_ORDERS,
 * BENCH_LOG_LEVEL (log level of the product's parts; default: theirs, info).
 * Every key is written under a unique `rfbench-*` prefix and deleted afterwards; logs and
 * profiles go to a temp directory, which is printed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endToEnd } from './end-to-end.ts';
import { ingest } from './ingest.ts';
import {
  connect,
  deleteByPrefix,
  env,
  fmt,
  load1,
  machineFacts,
  markdownTable,
  partsInUse,
  prefixesInUse,
  printTable,
  RUN_DATE,
  say,
  type Table,
  writeDocSection,
} from './lib.ts';
import { pollerSweep } from './poller-sweep.ts';
import { summariseProfiles } from './profile-summary.ts';
import { workerThroughput } from './worker.ts';

const NAMES = ['end-to-end', 'ingest', 'worker', 'poller-sweep'] as const;
type Name = (typeof NAMES)[number];

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const names = args.filter((a) => !a.startsWith('--'));
for (const name of names) {
  if (!(NAMES as readonly string[]).includes(name)) {
    say(`unknown benchmark "${name}"; one of: ${NAMES.join(', ')}`);
    process.exit(2);
  }
}
const selected: Name[] = names.length > 0 ? (names as Name[]) : [...NAMES];
const quick = flags.has('--quick');
const write = flags.has('--write') && !quick;
/** End-to-end runs: 1 and 2 workers as configured by default, then 1 worker reusing provider connections. */
const E2E_RUNS = [{ workers: 1 }, { workers: 2 }, { workers: 1, keepAliveMs: 5_000 }] as const;
const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);

const logDir = mkdtempSync(join(tmpdir(), 'rf-bench-'));
const command = args.length > 0 ? `npm run bench -- ${args.join(' ')}` : 'npm run bench';

async function main(): Promise<void> {
  const redis = await connect();
  // Ctrl-C: the parts get the terminal's SIGINT too; the keys of the runs under way are deleted here.
  process.once('exit', () => {
    for (const part of partsInUse) part.kill('SIGKILL');
  });
  process.once('SIGINT', () => {
    say('interrupted: stopping the parts and deleting the keys of the runs under way…');
    for (const part of partsInUse) part.kill('SIGTERM');
    void Promise.all([...prefixesInUse].map((prefix) => deleteByPrefix(redis, prefix))).finally(() =>
      process.exit(130),
    );
  });
  const facts = await machineFacts(redis);
  say(`${facts.line}; logs in ${logDir}`);
  const header = (title: string, what: string) =>
    [
      `## ${title}`,
      '',
      `Run ${RUN_DATE} with \`${command}\` (\`tools/bench/src/run.ts\`). Machine: ${facts.line}. ${what}`,
      "Other engineers' test runs may have been using the same 2 cores and Redis at the time (noise): the",
      'load average (1 min, as `uptime` shows it) is recorded before each measured run.',
      '',
      '',
    ].join('\n');
  const finish = (name: Name, title: string, what: string, table: Table, after: string[]) => {
    printTable(title, table);
    for (const line of after) process.stdout.write(`  ${line}\n`);
    if (write) writeDocSection(name, `${header(title, what)}${markdownTable(table)}\n\n${after.join('\n')}`);
  };
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  try {
    for (const name of selected) {
      say(`\n=== ${name} (load average ${load1()}) ===`);
      if (name === 'end-to-end') {
        const orders = num('BENCH_E2E_ORDERS', quick ? 2_000 : 30_000);
        const clients = num('BENCH_E2E_CLIENTS', 64);
        const concurrency = num('BENCH_E2E_CONCURRENCY', 50);
        const result = await endToEnd(redis, { orders, clients, concurrency, runs: E2E_RUNS, logDir });
        const after = [
          ...result.details,
          '',
          `Target: Rechargeflow ≥ 50 % of the baseline's rate: ${result.ratios
            .map((r) => `${r.label} ${(r.ratio * 100).toFixed(0)} % — ${verdict(r.ratio >= 0.5)}`)
            .join('; ')}.`,
        ];
        if (flags.has('--profile')) {
          const dir = join(logDir, 'profiles');
          say('end-to-end: profiling run (--cpu-prof on the API and the worker, 1 worker, no baseline)…');
          const profiled = await endToEnd(redis, {
            orders,
            clients,
            concurrency,
            runs: [{ workers: 1 }],
            logDir,
            skipBaseline: true,
            profileDir: dir,
          });
          const rate = profiled.table.rows[0]?.[7] ?? '?';
          after.push(
            '',
            `Profile (\`--profile\`: the 1-worker run again with \`--cpu-prof\` on the API and the worker, ${rate} orders/s under the profiler; summarised by \`tools/bench/src/profile-summary.ts\`):`,
            '',
            '```',
            ...summariseProfiles(dir, 12),
            '```',
          );
          say(`profiles in ${dir}`);
        }
        finish(
          'end-to-end',
          'End-to-end throughput: HTTP submit → success',
          `${fmt(orders)} orders per run, ${clients} HTTP requests (baseline: adds) in flight, worker concurrency ${concurrency} per process, simulator at 0 ms; the API, workers and simulator are separate processes, no poller.`,
          result.table,
          after,
        );
      } else if (name === 'ingest') {
        const result = await ingest(redis, {
          rate: num('BENCH_INGEST_RATE', 1_000),
          seconds: num('BENCH_INGEST_SECONDS', quick ? 5 : 25),
          repeats: num('BENCH_INGEST_REPEATS', quick ? 1 : 3),
          logDir,
        });
        const measured = Object.entries(result.p99).filter(
          ([label]) => !label.startsWith('baseline') && !label.includes('overallRate'),
        );
        const apiOnly = measured.filter(([label]) => label.startsWith('API + Redis only'));
        const after = [
          ...result.details,
          '',
          `Target: p99 < 20 ms: ${measured.map(([label, p99]) => `${label}: ${p99} ms — ${verdict(p99 < 20)}`).join('; ')}.`,
          `The API alone (the target's setting): ${verdict(apiOnly.length > 0 && apiOnly.every(([, p99]) => p99 < 20))} in ${apiOnly.filter(([, p99]) => p99 < 20).length} of ${apiOnly.length} run(s).`,
        ];
        finish('ingest', 'Ingest API latency at a fixed rate', result.what, result.table, after);
      } else if (name === 'worker') {
        const result = await workerThroughput(redis, {
          concurrencies: [50, 200, 500],
          keepAliveAt: 200,
          orders: env.BENCH_WORKER_ORDERS ? Number(env.BENCH_WORKER_ORDERS) : undefined,
          quick,
          logDir,
        });
        const after = [
          ...result.details,
          '',
          `Worker CPU at the highest concurrency: ${Math.round((result.runs.filter((r) => r.keepAliveMs === 0).at(-1)?.cpuShare ?? 0) * 100)} % of one core (a Node process uses one core for its JavaScript): beyond that the worker is CPU-bound, not provider-bound, and more concurrency adds nothing.`,
        ];
        finish('worker', 'Worker throughput against a 50 ms provider', result.what, result.table, after);
      } else if (name === 'poller-sweep') {
        const orders = num('BENCH_SWEEP_ORDERS', quick ? 5_000 : 100_000);
        const result = await pollerSweep(redis, { orders, logDir });
        finish(
          'poller-sweep',
          `Poller sweep of ${fmt(orders)} pending orders`,
          result.what,
          result.table,
          result.details,
        );
      }
    }
  } finally {
    await redis.quit();
  }
}

await main();
