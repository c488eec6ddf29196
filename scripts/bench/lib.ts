/**
 * Shared parts of the `npm run bench` benchmarks (scripts/bench/run.ts): Redis helpers, the
 * system's parts as child processes (logs to a file, CPU read from /proc), machine facts, result
 * tables and the sections of docs/benchmarks.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import {
  type AppName,
  deleteByPrefix as deleteKeysByPrefix,
  freePort,
  REPO_ROOT,
} from '../../packages/testkit/src/index.ts';

export { freePort, REPO_ROOT };

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

/** Child processes started by the benchmarks and still running (stopped on an interrupt). */
export const childrenInUse = new Set<ChildProcess>();

/** Registers a child process in childrenInUse until it exits. */
export function trackChild(child: ChildProcess): void {
  childrenInUse.add(child);
  child.once('exit', () => childrenInUse.delete(child));
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

/** Seconds of CPU the Redis server has used so far (user + system, all its threads). */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Commands the Redis server has run so far (all clients; scripts count once per EVALSHA). */
export async function redisCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

/** Redis CPU and command counts over a stretch of time. */
export async function redisMeter(redis: Redis): Promise<() => Promise<{ cpu: number; calls: number }>> {
  const [cpu0, calls0] = [await redisCpu(redis), await redisCalls(redis)];
  return async () => {
    const [cpu1, calls1] = [await redisCpu(redis), await redisCalls(redis)];
    // The INFO calls of the meter itself are left in: two per reading.
    return { cpu: cpu1 - cpu0, calls: calls1 - calls0 };
  };
}

export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  prefixesInUse.delete(prefix);
  return deleteKeysByPrefix(redis, prefix);
}

/** CPU seconds (user + system) a process has used, from /proc; 0 once it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    return ticks / 100; // USER_HZ is 100 on Linux x86-64
  } catch {
    return 0;
  }
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

/** One of the system's apps as a child process: output to a log file, optional Node flags. */
export interface Part {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the first log line matching `pattern`; rejects on exit or after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after timeoutMs; the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export function startPart(
  app: AppName | string,
  partEnv: Record<string, string>,
  options: { label?: string; logDir: string; nodeFlags?: readonly string[]; args?: readonly string[] },
): Part {
  const label = options.label ?? app;
  const logFile = join(options.logDir, `${label}.log`);
  const fd = openSync(logFile, 'a');
  const file = app.endsWith('.ts') ? resolve(app) : resolve(REPO_ROOT, `apps/${app}/src/main.ts`);
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), file, ...(options.args ?? [])], {
    // The benchmark Redis keeps no append-only file; the parts would refuse to put a ledger there.
    env: { ...process.env, ALLOW_LEDGER_WITHOUT_AOF: 'on', ...partEnv },
    stdio: ['ignore', fd, fd],
    cwd: REPO_ROOT,
  });
  closeSync(fd);
  trackChild(child);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let lastCpu = 0;
  return {
    name: label,
    child,
    logFile,
    async waitForLog(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        const line = text.split('\n').find((l) => pattern.test(l));
        if (line) return line;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${label} exited (${child.exitCode ?? child.signalCode}):\n${tail(text)}`);
        }
        await sleep(50);
      }
      throw new Error(`${label}: no log line matching ${pattern} within ${timeoutMs} ms:\n${tail(logFile)}`);
    },
    cpuSeconds() {
      const now = processCpuSeconds(child.pid);
      if (now > 0) lastCpu = now;
      return lastCpu;
    },
    async stop(timeoutMs = 30_000) {
      this.cpuSeconds();
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function tail(textOrFile: string): string {
  const text = existsSync(textOrFile) ? readFileSync(textOrFile, 'utf8') : textOrFile;
  return text.split('\n').slice(-15).join('\n');
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
  await Promise.all(parts.map((p) => p.stop()));
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

/** Raw BullMQ worker processes (scripts/bench/raw-worker.ts), counted together. */
export interface RawWorkers {
  /** Completions so far, all processes together. */
  completed(): number;
  /** Time (ms since the epoch) of the latest completion seen. */
  lastAt(): number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export async function startRawWorkers(
  processes: number,
  args: { prefix: string; queue: string; concurrency: number; sleepMs: number },
): Promise<RawWorkers> {
  const file = resolve(import.meta.dirname, 'raw-worker.ts');
  const children = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, [file, JSON.stringify(args)], {
      env: { ...process.env, REDIS_URL },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    trackChild(child);
    const state = { child, ready: false, completed: 0, lastAt: 0, cpu: 0 };
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffer += text;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') state.ready = true;
        const match = /^count (\d+) (\d+)$/.exec(line);
        if (match) {
          state.completed = Number(match[1]);
          state.lastAt = Number(match[2]);
        }
      }
    });
    return state;
  });
  await until(
    'the raw BullMQ workers to be ready',
    async () => (children.every((c) => c.ready) ? true : undefined),
    30_000,
  );
  const cpu = () => {
    for (const c of children) c.cpu = Math.max(c.cpu, processCpuSeconds(c.child.pid));
    return children.reduce((sum, c) => sum + c.cpu, 0);
  };
  return {
    completed: () => children.reduce((sum, c) => sum + c.completed, 0),
    lastAt: () => Math.max(...children.map((c) => c.lastAt)),
    cpuSeconds: cpu,
    async stop() {
      cpu();
      await Promise.all(
        children.map(async ({ child }) => {
          if (child.exitCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }),
      );
    },
  };
}
