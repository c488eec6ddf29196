import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, startProcess } from '../src/index.ts';

// The launcher every test and tool starts processes with: what each of its users relies on.
const dir = mkdtempSync(join(tmpdir(), 'rf-testkit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Node child running `code`. */
const node = (code: string) => ['-e', code];

describe('startProcess', () => {
  it('captures whole lines from stdout and stderr, even when a line arrives in pieces', async () => {
    const seen: string[] = [];
    const part = startProcess({
      label: 'pieces',
      args: node(
        "process.stdout.write('hel'); setTimeout(() => { process.stdout.write('lo\\nsecond\\n'); process.stderr.write('on stderr\\n'); }, 50)",
      ),
      onLine: (line) => seen.push(line),
    });
    expect(await part.waitForLine(/second/)).toBe('second');
    expect(await part.closed).toBe(0);
    expect(part.lines).toEqual(['hello', 'second', 'on stderr']);
    expect(seen).toEqual(part.lines);
  });

  it('waitForLine fails at once when the process exits without the line, with its last lines', async () => {
    const part = startProcess({ label: 'quitter', args: node("console.log('bye'); process.exit(3)") });
    await expect(part.waitForLine(/never/, 10_000)).rejects.toThrow(/quitter exited \(code 3\)[\s\S]*bye/);
    expect(await part.exited).toBe(3);
  });

  it('writes to a log file itself; lines and waitForLine read the file', async () => {
    const file = join(dir, 'part.log');
    const part = startProcess({
      label: 'logger',
      args: node("console.log('one'); console.error('two'); setInterval(() => {}, 1000)"),
      stdout: { file },
      env: { RF_TESTKIT_VAR: 'x' },
    });
    expect(part.logFile).toBe(file);
    await part.waitForLine(/two/, 10_000);
    expect(part.lines).toEqual(['one', 'two']);
    expect(part.running()).toBe(true);
    expect(part.cpuSeconds()).toBeGreaterThanOrEqual(0);
    expect(await part.stop()).toBe(null); // SIGTERM: no exit code
    expect(part.running()).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
  });

  it('runs any command with a clean environment when asked, and keeps only the last lines', async () => {
    const part = startProcess({
      label: 'shell',
      command: 'sh',
      args: ['-c', 'for i in 1 2 3 4 5; do echo "$i $RF_ONLY [$HOME]"; done'],
      baseEnv: { PATH: process.env.PATH },
      env: { RF_ONLY: 'given' },
      keepLines: 2,
    });
    expect(await part.closed).toBe(0);
    // HOME is not passed on.
    expect(part.lines).toEqual(['4 given []', '5 given []']);
  });

  it('a program that cannot start is an exit like any other, not a crash', async () => {
    const part = startProcess({ label: 'missing', command: 'rf-no-such-program' });
    await expect(part.waitForLine(/never/)).rejects.toThrow(/missing exited[\s\S]*ENOENT/);
    expect(await part.exited).toBe(null);
    expect(part.running()).toBe(false);
  });
});

describe('runCommand', () => {
  it('answers the exit status and the output; a missing program is an error, not a throw', () => {
    const ok = runCommand(
      process.execPath,
      node("process.stdout.write(require('node:fs').readFileSync(0, 'utf8'))"),
      {
        input: 'piped',
      },
    );
    expect(ok).toMatchObject({ ok: true, status: 0, stdout: 'piped' });
    const failed = runCommand(process.execPath, node('process.exit(4)'));
    expect(failed).toMatchObject({ ok: false, status: 4 });
    const missing = runCommand('rf-no-such-program', []);
    expect(missing.ok).toBe(false);
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});
