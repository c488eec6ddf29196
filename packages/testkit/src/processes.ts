/**
 * The one place that starts processes, for the tests and the tools (npm start, the benchmarks, the
 * chaos suite, the container checks): long-running ones (`startProcess`, `startApp` for the apps)
 * and one-shot commands (`runCommand`). The import rules keep `node:child_process` out of tools/.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository root (this file is packages/testkit/src/processes.ts). */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export type AppName = 'api' | 'worker' | 'poller' | 'simulator';

/**
 * Where a process's stdout or stderr goes:
 * - `capture`: kept line by line in `lines` (and given to `onLine`), so `waitForLine` sees it;
 * - `inherit`: this process's own stream (a terminal);
 * - `ignore`: dropped;
 * - `{ file }`: appended to that file by the child itself (nothing passes through this process, so
 *   a chatty part costs its parent nothing); `lines` and `waitForLine` read the file.
 */
export type OutputTarget = 'capture' | 'inherit' | 'ignore' | { readonly file: string };

export interface ProcessOptions {
  /** Names the process in messages (and in the tools' CPU tables). */
  readonly label: string;
  /** The program (default: this Node, `process.execPath`). */
  readonly command?: string;
  readonly args?: readonly string[];
  /** Added to `baseEnv`; an `undefined` value leaves that variable out. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The environment `env` is added to (default: this process's; `{}` for a clean one). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Default: this process's working directory. */
  readonly cwd?: string;
  /** Default `capture`. */
  readonly stdout?: OutputTarget;
  /** Default: the same as stdout. */
  readonly stderr?: OutputTarget;
  /** Called with every captured line as it arrives. */
  readonly onLine?: (line: string) => void;
  /** Keep only the last N captured lines (default: every line). */
  readonly keepLines?: number;
  /**
   * Its own process group: a terminal's Ctrl-C then reaches only this process, which stops the
   * child itself (with one SIGTERM: a part takes a second signal as "force exit").
   */
  readonly detached?: boolean;
}

export interface RunningPart {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every line the process wrote so far (captured output, or its log file's lines). */
  readonly lines: string[];
  /** The log file its output goes to, when it goes to a file. */
  readonly logFile: string | undefined;
  /**
   * Resolves with the first line matching `pattern` (one already written counts); rejects after
   * timeoutMs, or once the process has exited without writing one, with its last lines.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after timeoutMs; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** Whether the process is still running. */
  running(): boolean;
  /** CPU seconds (user + system) it has used, from /proc; after it is gone, the last reading. */
  cpuSeconds(): number;
  /** The exit code (null after a signal), as soon as the process has exited. */
  readonly exited: Promise<number | null>;
  /** As `exited`, once its captured output has been read to the end too. */
  readonly closed: Promise<number | null>;
}

function isFile(target: OutputTarget): target is { readonly file: string } {
  return typeof target === 'object';
}

/** Starts a process (by default another Node) and follows its output; see ProcessOptions. */
export function startProcess(options: ProcessOptions): RunningPart {
  const { label } = options;
  const stdoutTarget = options.stdout ?? 'capture';
  const stderrTarget = options.stderr ?? stdoutTarget;
  // One descriptor per log file, opened for appending; the child holds its own copy.
  const fds = new Map<string, number>();
  const stdio = (target: OutputTarget): 'pipe' | 'inherit' | 'ignore' | number => {
    if (target === 'capture') return 'pipe';
    if (!isFile(target)) return target;
    let fd = fds.get(target.file);
    if (fd === undefined) {
      fd = openSync(target.file, 'a');
      fds.set(target.file, fd);
    }
    return fd;
  };
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries({ ...(options.baseEnv ?? process.env), ...options.env }))
    if (value !== undefined) env[key] = value;
  const spawnOptions: SpawnOptions = {
    env,
    stdio: ['ignore', stdio(stdoutTarget), stdio(stderrTarget)],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.detached ? { detached: true } : {}),
  };
  let child: ChildProcess;
  try {
    child = spawn(options.command ?? process.execPath, [...(options.args ?? [])], spawnOptions);
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }

  const logFile = isFile(stdoutTarget)
    ? stdoutTarget.file
    : isFile(stderrTarget)
      ? stderrTarget.file
      : undefined;
  const captured: string[] = [];
  const waiters = new Set<{ pattern: RegExp; found: (line: string) => void }>();
  const take = (line: string) => {
    if (line.trim() === '') return;
    captured.push(line);
    if (options.keepLines !== undefined && captured.length > options.keepLines)
      captured.splice(0, captured.length - options.keepLines);
    options.onLine?.(line);
    for (const waiter of [...waiters]) if (waiter.pattern.test(line)) waiter.found(line);
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    // Whole lines only: a line may arrive in several chunks.
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) take(line);
    });
    stream.on('end', () => {
      if (partial !== '') take(partial);
      partial = '';
    });
  }
  const fileLines = () =>
    logFile && existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
      : [];
  const allLines = () => (logFile ? [...fileLines(), ...captured] : captured);
  const lastLines = () => allLines().slice(-15).join('\n');

  const exited = new Promise<number | null>((done) => {
    child.once('exit', (code) => done(code));
    // Not started at all (e.g. the program is not installed): no 'exit' comes, only 'close'.
    child.on('error', (error) => {
      take(`${label}: ${error.message}`);
      if (child.pid === undefined) done(null);
    });
  });
  const closed = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  let lastCpu = 0;
  const cpuSeconds = () => {
    const now = processCpuSeconds(child.pid);
    if (now > 0) lastCpu = now;
    return lastCpu;
  };
  const running = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

  return {
    name: label,
    child,
    get lines() {
      return allLines();
    },
    logFile,
    exited,
    closed,
    running,
    cpuSeconds,
    waitForLine(pattern, timeoutMs = 20_000) {
      const found = allLines().find((l) => pattern.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((done, fail) => {
        const waiter = { pattern, found: (line: string) => finish(() => done(line)) };
        let poll: NodeJS.Timeout | undefined;
        const finish = (settle: () => void) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          clearInterval(poll);
          settle();
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              fail(
                new Error(
                  `${label}: no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lastLines()}`,
                ),
              ),
            ),
          timeoutMs,
        );
        waiters.add(waiter);
        // A log file is read again every 50 ms; captured output arrives through `take`.
        if (logFile)
          poll = setInterval(() => {
            const line = fileLines().find((l) => pattern.test(l));
            if (line) waiter.found(line);
          }, 50);
        void closed.then((code) => {
          if (!waiters.has(waiter)) return;
          const line = allLines().find((l) => pattern.test(l));
          if (line) waiter.found(line);
          else
            finish(() =>
              fail(
                new Error(
                  `${label} exited (${child.signalCode ?? `code ${code}`}) without a line matching ${pattern}; last lines:\n${lastLines()}`,
                ),
              ),
            );
        });
      });
    },
    async stop(timeoutMs = 20_000) {
      cpuSeconds();
      if (!running()) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill(signal) {
      child.kill(signal);
    },
  };
}

export interface AppOptions extends Omit<ProcessOptions, 'label' | 'command' | 'args' | 'env' | 'baseEnv'> {
  /** Node flags before main.ts (e.g. `--cpu-prof`, heap flags). */
  readonly nodeFlags?: readonly string[];
  /** The tree holding `apps/<name>/src/main.ts` (default REPO_ROOT), and the working directory. */
  readonly root?: string;
  /** The environment `env` is added to (default: this process's; `{}` for a clean one). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * ALLOW_LEDGER_WITHOUT_AOF=on unless `env` says otherwise (default true): the test Redis keeps
   * no append-only file, and a part would refuse to put its ledger there. False: only what `env`
   * and `baseEnv` say.
   */
  readonly allowLedgerWithoutAof?: boolean;
}

/**
 * Runs `apps/<name>/src/main.ts` with this Node and the given environment (added to the current
 * one, or to `options.baseEnv`). Output is captured unless `options` sends it elsewhere.
 */
export function startApp(
  name: AppName,
  env: Readonly<Record<string, string | undefined>>,
  label: string = name,
  options: AppOptions = {},
): RunningPart {
  const { nodeFlags = [], root = REPO_ROOT, allowLedgerWithoutAof = true, ...rest } = options;
  return startProcess({
    ...rest,
    label,
    args: [...nodeFlags, resolve(root, `apps/${name}/src/main.ts`)],
    cwd: options.cwd ?? root,
    env: { ...(allowLedgerWithoutAof ? { ALLOW_LEDGER_WITHOUT_AOF: 'on' } : {}), ...env },
    ...(options.baseEnv ? { baseEnv: options.baseEnv } : {}),
  });
}

export interface CommandResult {
  /** Exit code 0, no signal, no error starting it. */
  readonly ok: boolean;
  readonly status: number | null;
  /** The signal that ended it, if one did (a timeout kills with SIGTERM). */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** Its stderr, or why it could not run (not installed, timed out). */
  readonly stderr: string;
}

export interface CommandOptions {
  readonly cwd?: string;
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to its stdin. */
  readonly input?: string;
  /** Killed after this long (default: never). */
  readonly timeoutMs?: number;
  /** `capture` (default): answered as text; `inherit`: straight to this process's terminal. */
  readonly output?: 'capture' | 'inherit';
}

/** Runs a command to its end (tools, checks, probes such as `redis-server --version`). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): CommandResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    stdio: options.output === 'inherit' ? 'inherit' : 'pipe',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    ok: !result.error && result.status === 0,
    status: result.status,
    signal: result.signal,
    stdout: result.stdout ?? '',
    stderr: result.error ? String(result.error) : (result.stderr ?? ''),
  };
}

/** Whether `command args` runs and exits 0 (e.g. `installed('promtool', ['--version'])`). */
export function installed(command: string, args: readonly string[]): boolean {
  return runCommand(command, args, { timeoutMs: 30_000 }).ok;
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

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** Polls `probe` until it returns a value other than undefined, or fails after timeoutMs. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}
