/**
 * `npm run bench [-- <name>...] [--write] [--quick] [--profile] [--memory]`: Rechargeflow's
 * benchmarks, each against a baseline measured in the same run on the same Redis (this machine is
 * noisy).
 *
 *   end-to-end    HTTP submit → final: raw BullMQ no-op jobs (context), a hand-written pipeline
 *                 (Fastify + BullMQ + undici: the yardstick) and Rechargeflow, interleaved, repeated;
 *                 throughput, CPU / Redis commands / Redis memory per order, books checked
 *   memory        the same three pipelines once at BENCH_E2E_MEMORY_ORDERS (100,000) orders, for
 *                 the Redis memory per final order (also run after end-to-end by `--memory`)
 *   ingest        API latency at a fixed 1,000 req/s (autocannon), API + Redis only, then with a
 *                 worker draining; vs a bare Fastify route doing one raw BullMQ add
 *   worker        worker throughput against a 50 ms provider at concurrency 50, 200, 500, vs the
 *                 ceiling concurrency / 0.05 s and a raw BullMQ worker sleeping 50 ms per job
 *                 (other latencies and concurrencies: BENCH_WORKER_LATENCIES_MS, BENCH_WORKER_CONCURRENCIES)
 *   poller-sweep  100,000 due pending orders swept by the poller's status checks, vs the same
 *                 status calls made straight to the provider
 *
 * No name: all but memory. `--write` updates each one's section of docs/benchmarks.md (not when a
 * books check failed). `--quick`: small sizes (for development; never written). `--profile`: a
 * Rechargeflow end-to-end run once more with `--cpu-prof` on the API and worker, summarised
 * (tools/bench/src/profile-summary.ts).
 * Knobs (environment): REDIS_URL, BENCH_E2E_ORDERS, BENCH_E2E_CLIENTS, BENCH_E2E_CONCURRENCY,
 * BENCH_E2E_WORKERS, BENCH_E2E_REPEATS, BENCH_E2E_MEMORY_ORDERS, BENCH_E2E_KEEP_ALIVE_MS,
 * BENCH_INGEST_SECONDS, BENCH_INGEST_RATE, BENCH_INGEST_REPEATS, BENCH_WORKER_ORDERS,
 * BENCH_WORKER_LATENCIES_MS (e.g. "50,500,5000"; default 50), BENCH_WORKER_CONCURRENCIES (default
 * "50,200,500"; the keep-alive run at 200 only then), BENCH_SWEEP_ORDERS,
 * BENCH_LOG_LEVEL (log level of the product's parts; default: theirs, info), BENCH_API_NODE_FLAGS (Node
 * flags added to the API's, e.g. heap settings to try), BENCH_WORKER_NODE_FLAGS (a worker's Node
 * flags instead of its own, WORKER_PROCESSES.worker of @rechargeflow/runtime: none).
 * Every key is written under a unique `rfbench-*` prefix and deleted afterwards; logs and
 * profiles go to a temp directory, which is printed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endToEnd, endToEndReport } from './end-to-end.ts';
import { type EndToEndOptions, rechargeflowRun } from './end-to-end-runs.ts';
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

const NAMES = ['end-to-end', 'memory', 'ingest', 'worker', 'poller-sweep'] as const;
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
const selected: Name[] = names.length > 0 ? (names as Name[]) : NAMES.filter((n) => n !== 'memory');
// `--memory`: the memory run right after end-to-end.
if (flags.has('--memory') && !selected.includes('memory')) {
  const at = selected.indexOf('end-to-end');
  selected.splice(at >= 0 ? at + 1 : selected.length, 0, 'memory');
}
const quick = flags.has('--quick');
const write = flags.has('--write') && !quick;
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
      if (name === 'end-to-end' || name === 'memory') {
        const memory = name === 'memory';
        const memoryOrders = num('BENCH_E2E_MEMORY_ORDERS', quick ? 5_000 : 100_000);
        const e2e: EndToEndOptions = {
          orders: memory ? memoryOrders : num('BENCH_E2E_ORDERS', quick ? 2_000 : 30_000),
          clients: num('BENCH_E2E_CLIENTS', 64),
          concurrency: num('BENCH_E2E_CONCURRENCY', 50),
          workers: num('BENCH_E2E_WORKERS', 1),
          repeats: memory ? 1 : num('BENCH_E2E_REPEATS', 3),
          logDir,
          keepAliveMs: env.BENCH_E2E_KEEP_ALIVE_MS ? Number(env.BENCH_E2E_KEEP_ALIVE_MS) : undefined,
        };
        const result = await endToEnd(redis, e2e);
        if (!result.booksOk) {
          say(`${name}: a books check failed (see the tables); nothing written to docs/benchmarks.md`);
          process.exitCode = 1;
        }
        const report = endToEndReport(result, e2e, { memory, memoryOrders });
        const { title, what, sections } = report;
        const after = [...report.after];
        if (flags.has('--profile') && !memory) {
          const dir = join(logDir, 'profiles');
          say('end-to-end: profiling run (--cpu-prof on the API and the worker, Rechargeflow only)…');
          const profiled = await rechargeflowRun(redis, { ...e2e, repeats: 1 }, dir);
          after.push(
            '',
            `Profile (\`--profile\`: a Rechargeflow run again with \`--cpu-prof\` on the API and the worker, ${fmt(profiled.rate)} orders/s under the profiler; summarised by \`tools/bench/src/profile-summary.ts\`):`,
            '',
            '```',
            ...summariseProfiles(dir, 12),
            '```',
          );
          say(`profiles in ${dir}`);
        }
        for (const section of sections) {
          printTable(`${title}: ${section.title}`, section.table);
          for (const line of section.lines) process.stdout.write(`  ${line}\n`);
        }
        for (const line of after) process.stdout.write(`  ${line}\n`);
        if (write && result.booksOk) {
          const body = sections
            .map(
              (s) =>
                `### ${s.title}\n\n${markdownTable(s.table)}${s.lines.length > 0 ? `\n\n${s.lines.join('\n')}` : ''}`,
            )
            .join('\n\n');
          writeDocSection(name, `${header(title, what)}${body}\n\n${after.join('\n')}`);
        }
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
          `The API alone (the target's setting): ${verdict(apiOnly.length > 0 && apiOnly.every(([, p99]) => p99 < 20))} (p99 under 20 ms in ${apiOnly.filter(([, p99]) => p99 < 20).length} of ${apiOnly.length} run(s)).`,
        ];
        finish('ingest', 'Ingest API latency at a fixed rate', result.what, result.table, after);
      } else if (name === 'worker') {
        const numbers = (name: string) => {
          const list = env[name]?.split(',').map(Number);
          if (list?.some((n) => !Number.isInteger(n) || n <= 0))
            throw new Error(`${name} must be whole numbers above 0 separated by commas, not "${env[name]}"`);
          return list;
        };
        const concurrencies = numbers('BENCH_WORKER_CONCURRENCIES');
        const latenciesMs = numbers('BENCH_WORKER_LATENCIES_MS');
        const result = await workerThroughput(redis, {
          latenciesMs,
          concurrencies: concurrencies ?? [50, 200, 500],
          keepAliveAt: concurrencies ? undefined : 200,
          orders: env.BENCH_WORKER_ORDERS ? Number(env.BENCH_WORKER_ORDERS) : undefined,
          quick,
          logDir,
        });
        const after = [
          ...result.details,
          '',
          `Worker CPU at the highest concurrency (${result.runs[0]?.latencyMs ?? 50} ms): ${Math.round((result.runs.filter((r) => r.keepAliveMs === 0 && r.latencyMs === result.runs[0]?.latencyMs).at(-1)?.cpuShare ?? 0) * 100)} % of one core (a Node process uses one core for its JavaScript): beyond that the worker is CPU-bound, not provider-bound, and more concurrency adds nothing.`,
        ];
        const title =
          latenciesMs && latenciesMs.join() !== '50'
            ? `Worker throughput against a provider at ${latenciesMs.join(', ')} ms`
            : 'Worker throughput against a 50 ms provider';
        finish('worker', title, result.what, result.table, after);
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
