/**
 * The run file: how `npm run batch` finds the API that `npm start` started. npm start writes it
 * once every part is up and removes it when it exits; it holds the API's URL, npm start's pid (a
 * file left by a killed npm start names a dead pid and is ignored) and the demo client key (so the
 * CLI needs no RECHARGEFLOW_API_KEY for the demo). Only the owner may read it: it holds a key.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * Where the run file lives: RECHARGEFLOW_RUN_FILE (tests point npm start and the CLI at their own),
 * else `.rechargeflow/run.json` at the repository root (gitignored, never in the image).
 */
export function runFilePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return (
    env.RECHARGEFLOW_RUN_FILE || fileURLToPath(new URL('../../../../.rechargeflow/run.json', import.meta.url))
  );
}

const runFileSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  pid: z.number().int().positive(),
  apiKey: z.string().min(1).optional(),
  startedAt: z.string().optional(),
});

export type RunFile = z.infer<typeof runFileSchema>;

/** Whether a process with this pid runs (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The run file as written, or undefined when there is none or it cannot be understood. */
export function readRunFile(path: string): RunFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = runFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes this process's run file, unless a live other npm start already holds it (the first one
 * keeps it: a second `npm start`, e.g. a test's, must not take the CLI away from the first).
 * Returns whether it was written. Written whole, then renamed: a reader never sees half a file.
 */
export function writeRunFile(path: string, run: Omit<RunFile, 'pid'>): boolean {
  const held = readRunFile(path);
  if (held && held.pid !== process.pid && pidAlive(held.pid)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ ...run, pid: process.pid }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
  return true;
}

/** Removes the run file if this process wrote it (synchronous: also called on 'exit'). */
export function removeRunFile(path: string): void {
  try {
    if (readRunFile(path)?.pid === process.pid) rmSync(path, { force: true });
  } catch {
    // Left behind, it names a dead pid: readers ignore it and the next npm start replaces it.
  }
}
