/**
 * Shared parts of the `npm run bench` benchmarks (tools/bench/src/run.ts): Redis helpers, the
 * system's parts as child processes (started by the testkit's launcher, logs to a file, CPU read
 * from /proc), machine facts, result tables and the sections of docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type AppName,
  deleteByPrefix as deleteKeysByPrefix,
  freePort,
  type ProcessOptions,
  REPO_ROOT,
  type RunningPart,
  startApp,
  startProcess,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';

export { freePort };

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
export const env: Record<string, string | undefined> = { ...process.env };
export const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The date written into docs/benchmarks.md with each section. */
export const RUN_DATE = new Date().toISOString().slice(0, 10);

export const say = (line: string) => process.stderr.write(`${line}\n`);
export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
export const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Processes started by the benchmarks and still running (stopped on an interrupt). */
export const partsInUse = new Set<RunningPart>();

/** Registers a process in partsInUse until it exits. */
export function trackPart(part: RunningPart): void {
  partsInUse.add(part);
  void part.exited.then(() => partsInUse.delete(part));
}

/** Every prefix handed out by runPrefix in this process (for the clean-up after an interrupt). */
export const prefixesInUse = new Set<string>();

/** A unique, fixed-length prefix for one run (no `:`: QUEUE_PREFIX refuses it). */
export function runPrefix(kind: string): string {
  const prefix = `rfbench-${kind}-${randomBytes(4).toString('hex')}`;
  prefixesInUse.add(prefix);
  return prefix;
}

export async function connect(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  return redis;
}

/** What the Redis server has done so far, from one `INFO cpu commandstats memory`. */
export interface RedisReading {
  /** Seconds of CPU (used_cpu_user + used_cpu_sys, all its threads). */
  readonly cpu: number;
  /**
   * Commands run (all clients), from `INFO commandstats`: a script counts once for its EVALSHA and
   * once for each command it runs. The INFO calls that read these figures are left out.
   */
  readonly calls: number;
  /** The same calls by command name (lower case, INFO left out). */
  readonly byCommand: Readonly<Record<string, number>>;
  /** used_memory, bytes. */
  readonly usedMemory: number;
}

export async function readRedis(redis: Redis): Promise<RedisReading> {
  const info = await redis.info('cpu', 'commandstats', 'memory');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  let calls = 0;
  const byCommand: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] === 'info' || match[1] === undefined) continue;
    calls += Number(match[2]);
    byCommand[match[1]] = Number(match[2]);
  }
  return {
    cpu: field('used_cpu_user') + field('used_cpu_sys'),
    calls,
    byCommand,
    usedMemory: field('used_memory'),
  };
}

/** Seconds of CPU the Redis server has used so far (user + system, all its threads). */
export async function redisCpu(redis: Redis): Promise<number> {
  return (await readRedis(redis)).cpu;
}

export interface RedisUse {
  readonly cpu: number;
  readonly calls: number;
  /** The calls by command name over the stretch. */
  readonly byCommand: Readonly<Record<string, number>>;
  /** used_memory now minus at the start, bytes (other clients' keys count too). */
  readonly memory: number;
}

/** Redis CPU, commands (INFO left out) and memory over a stretch of time. */
export async function redisMeter(redis: Redis): Promise<() => Promise<RedisUse>> {
  const start = await readRedis(redis);
  return async () => {
    const end = await readRedis(redis);
    return {
      cpu: end.cpu - start.cpu,
      calls: end.calls - start.calls,
      byCommand: Object.fromEntries(
        Object.entries(end.byCommand)
          .map(([name, n]) => [name, n - (start.byCommand[name] ?? 0)] as const)
          .filter(([, n]) => n > 0),
      ),
      memory: end.usedMemory - start.usedMemory,
    };
  };
}

/**
 * Bytes the keys under `prefix` take (`MEMORY USAGE … SAMPLES 0`: every element counted), found
 * with SCAN: what one run left in Redis, whatever other clients of a shared Redis do meanwhile.
 */
export async function keysMemory(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    for (const [error, used] of (await pipeline.exec()) ?? []) if (!error) bytes += Number(used ?? 0);
  } while (cursor !== '0');
  return bytes;
}

export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  prefixesInUse.delete(prefix);
  return deleteKeysByPrefix(redis, prefix);
}

/** The 1-minute load average, as `uptime` shows it. */
export function load1(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export interface MachineFacts {
  readonly line: string;
  readonly redisVersion: string;
}

export async function machineFacts(redis: Redis): Promise<MachineFacts> {
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  const cpuList = cpus();
  const line = `${cpuList.length} vCPUs (${cpuList[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, Linux ${release()}, Node ${process.version}, Redis ${redisVersion} on the same machine (shared), the Redis ledger`;
  return { line, redisVersion };
}

/** One of the system's apps (or a benchmark's own server) as a child process, logging to a file. */
export type Part = RunningPart;

/** How long a part may take to log that it is ready, and to stop on SIGTERM before SIGKILL. */
export const PART_TIMEOUT_MS = 30_000;

/**
 * `<logDir>/<label>.log`, or `<label>-2.log`, … when a part of that name ran before in this
 * benchmark: waitForLine reads the whole file, and an earlier run's "ready" line must not count.
 */
function freshLogFile(logDir: string, label: string): string {
  let file = join(logDir, `${label}.log`);
  for (let n = 2; existsSync(file); n++) file = join(logDir, `${label}-${n}.log`);
  return file;
}

/**
 * Starts `app` (an app's name, or a .ts file of this package such as raw-api.ts) with the
 * benchmark's environment: its output goes to a fresh `<logDir>/<label>.log` (freshLogFile), written by the child itself
 * (nothing passes through this process); `waitForLine` reads that file.
 */
export function startPart(
  app: AppName | `${string}.ts`,
  partEnv: Record<string, string>,
  options: { label?: string; logDir: string; nodeFlags?: readonly string[]; args?: readonly string[] },
): Part {
  const label = options.label ?? app;
  const log: ProcessOptions['stdout'] = { file: freshLogFile(options.logDir, label) };
  const part = app.endsWith('.ts')
    ? startProcess({
        label,
        args: [...(options.nodeFlags ?? []), resolve(import.meta.dirname, app), ...(options.args ?? [])],
        env: partEnv,
        cwd: REPO_ROOT,
        stdout: log,
      })
    : // The benchmark Redis keeps no append-only file: startApp allows the ledger there.
      startApp(app as AppName, partEnv, label, { nodeFlags: options.nodeFlags ?? [], stdout: log });
  trackPart(part);
  return part;
}

/** Environment every Rechargeflow part of one run shares: its own Redis prefixes. */
export function systemEnv(prefix: string): Record<string, string> {
  return {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    LEDGER_PREFIX: `${prefix}:ledger`,
    // Product parts log at their default level (info): a request line per API call and a line per
    // job, as in production. Set BENCH_LOG_LEVEL to compare.
    ...(env.BENCH_LOG_LEVEL ? { LOG_LEVEL: env.BENCH_LOG_LEVEL } : {}),
  };
}

export const SIM_USER = 'bench';
export const SIM_PASSWORD = 'bench-password-1234';

/** The simulator (as A1Topup) on a free port, logging warnings only (it is not the product). */
export async function startSimulator(
  logDir: string,
  extra: Record<string, string> = {},
): Promise<{ part: Part; url: string }> {
  const port = await freePort();
  const part = startPart(
    'simulator',
    {
      SIMULATOR_PORT: String(port),
      A1TOPUP_USERNAME: SIM_USER,
      A1TOPUP_PASSWORD: SIM_PASSWORD,
      SIM_LATENCY_MS: '0',
      SIM_MAGIC_AMOUNTS: 'off',
      SIM_INITIAL_BALANCE: '999999999',
      LOG_LEVEL: 'warn',
      ...extra,
    },
    { logDir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/_sim/config`);
  return { part, url };
}

/** The provider settings of the worker and poller, pointing at the simulator. */
export function providerEnv(simUrl: string): Record<string, string> {
  return {
    PROVIDERS: 'a1topup',
    A1TOPUP_BASE_URL: simUrl,
    A1TOPUP_USERNAME: SIM_USER,
    A1TOPUP_PASSWORD: SIM_PASSWORD,
  };
}

export async function waitHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
      last = response.status;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${String(last)})`);
}

/** Stops every part (in parallel) and answers their CPU seconds by name. */
export async function stopAll(parts: readonly Part[]): Promise<Record<string, number>> {
  const cpu: Record<string, number> = {};
  for (const part of parts) cpu[part.name] = part.cpuSeconds();
  await Promise.all(parts.map((p) => p.stop(PART_TIMEOUT_MS)));
  return cpu;
}

export type Row = readonly (string | number)[];

/** A results table: printed aligned on stdout, and as Markdown for the docs. */
export interface Table {
  readonly head: readonly string[];
  readonly rows: Row[];
}

export function printTable(title: string, table: Table): void {
  const cells = [table.head, ...table.rows].map((r) => r.map(String));
  const widths = table.head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  process.stdout.write(`\n${title}\n`);
  for (const [n, row] of cells.entries()) {
    process.stdout.write(
      `${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`,
    );
    if (n === 0) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  }
}

export function markdownTable(table: Table): string {
  const line = (r: Row) => `| ${r.map(String).join(' | ')} |`;
  const rule = `| ${table.head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`;
  return [line(table.head), rule, ...table.rows.map(line)].join('\n');
}

const DOC = resolve(REPO_ROOT, 'docs/benchmarks.md');

/**
 * Replaces the section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in
 * docs/benchmarks.md, or appends it at the end. Everything else in the file is left as it is.
 */
export function writeDocSection(name: string, markdown: string): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const text = readFileSync(DOC, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${text.slice(0, from)}${block}${text.slice(to + end.length)}`
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOC, next);
  say(`docs/benchmarks.md: section "${name}" written`);
}

/** Waits for a value from `probe` (polled every `everyMs`), or fails after timeoutMs. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

/** Raw BullMQ worker processes (tools/bench/src/raw-worker.ts), counted together. */
export interface RawWorkers {
  /** Completions so far, all processes together. */
  completed(): number;
  /** Jobs that failed so far (the hand-written pipeline's recharge not answered Success). */
  failed(): number;
  /** Time (ms since the epoch) of the latest completion seen. */
  lastAt(): number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** The provider a raw worker recharges at (the hand-written pipeline); the password goes by environment. */
export interface RawProvider {
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

export async function startRawWorkers(
  processes: number,
  args: { prefix: string; queue: string; concurrency: number; sleepMs: number; provider?: RawProvider },
  label = 'raw-worker',
): Promise<RawWorkers> {
  const { provider, ...rest } = args;
  const workerArgs = provider
    ? { ...rest, provider: { url: provider.url, username: provider.username } }
    : rest;
  const workers = Array.from({ length: processes }, (_, i) => {
    const state = { ready: false, completed: 0, failed: 0, lastAt: 0 };
    // Reports on stdout (`ready`, then `count <completed> <ms> <failed>`); its stderr goes to the terminal.
    const part = startProcess({
      label: `${label}-${i + 1}`,
      args: [resolve(import.meta.dirname, 'raw-worker.ts'), JSON.stringify(workerArgs)],
      env: { REDIS_URL, ...(provider ? { BENCH_PROVIDER_PASSWORD: provider.password } : {}) },
      stdout: 'capture',
      stderr: 'inherit',
      keepLines: 10,
      onLine(line) {
        if (line === 'ready') state.ready = true;
        const match = /^count (\d+) (\d+) (\d+)$/.exec(line);
        if (match) {
          state.completed = Number(match[1]);
          state.lastAt = Number(match[2]);
          state.failed = Number(match[3]);
        }
      },
    });
    trackPart(part);
    return { part, state };
  });
  await until(
    'the raw BullMQ workers to be ready',
    async () => (workers.every((w) => w.state.ready) ? true : undefined),
    30_000,
  );
  const cpu = () => workers.reduce((sum, w) => sum + w.part.cpuSeconds(), 0);
  return {
    completed: () => workers.reduce((sum, w) => sum + w.state.completed, 0),
    failed: () => workers.reduce((sum, w) => sum + w.state.failed, 0),
    lastAt: () => Math.max(...workers.map((w) => w.state.lastAt)),
    cpuSeconds: cpu,
    async stop() {
      cpu();
      await Promise.all(workers.map((w) => w.part.stop(PART_TIMEOUT_MS)));
    },
  };
}

/** The commands that made up most of a run's calls, per order: "evalsha 6.0, hset 5.0, …". */
export function commandMix(byCommand: Readonly<Record<string, number>>, orders: number, top = 40): string {
  return Object.entries(byCommand)
    .sort(([, a], [, b]) => b - a)
    .slice(0, top)
    .map(([name, n]) => `${name} ${(n / orders).toFixed(1)}`)
    .join(', ');
}
