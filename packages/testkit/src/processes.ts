import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository root (this file is packages/testkit/src/processes.ts). */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export type AppName = 'api' | 'worker' | 'poller' | 'simulator';

export interface RunningPart {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  readonly lines: string[];
  /** Resolves when a line matches (or rejects after timeoutMs with the last lines). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<number | null>;
}

/**
 * Runs `apps/<name>/src/main.ts` with this Node and the given environment (added to the current
 * one). ALLOW_LEDGER_WITHOUT_AOF is on unless `env` says otherwise: the test Redis keeps no
 * append-only file, and a part would refuse to put its ledger there.
 */
export function startApp(name: AppName, env: Record<string, string>, label: string = name): RunningPart {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, `apps/${name}/src/main.ts`)], {
    env: { ...process.env, ALLOW_LEDGER_WITHOUT_AOF: 'on', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    name: label,
    child,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 20_000) {
      const found = lines.find((l) => pattern.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((done, fail) => {
        const timer = setTimeout(() => {
          fail(
            new Error(
              `${label}: no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            done(line);
          },
        });
      });
    },
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
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
