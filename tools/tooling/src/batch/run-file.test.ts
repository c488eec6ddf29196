import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '@rechargeflow/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_URL, locateApi } from './api-client.ts';
import { pidAlive, readRunFile, removeRunFile, runFilePath, writeRunFile } from './run-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-run-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that is not running: a process that has exited. */
function deadPid(): number {
  return Number(runCommand(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout);
}

describe('the run file', () => {
  it('is written for the owner only, read back, and removed only by its writer', () => {
    const path = join(dir, 'sub', 'run.json');
    expect(writeRunFile(path, { url: 'http://127.0.0.1:9001', apiKey: 'k'.repeat(24) })).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readRunFile(path)).toMatchObject({ url: 'http://127.0.0.1:9001', pid: process.pid });
    writeFileSync(path, JSON.stringify({ url: 'http://127.0.0.1:9002', pid: 1 }));
    removeRunFile(path);
    expect(readRunFile(path)?.pid).toBe(1);
  });

  it('a live other writer keeps it; a dead one gives it up', () => {
    const path = join(dir, 'held.json');
    writeFileSync(path, JSON.stringify({ url: 'http://127.0.0.1:9003', pid: process.ppid }));
    expect(pidAlive(process.ppid)).toBe(true);
    expect(writeRunFile(path, { url: 'http://127.0.0.1:9004' })).toBe(false);
    const dead = deadPid();
    expect(pidAlive(dead)).toBe(false);
    writeFileSync(path, JSON.stringify({ url: 'http://127.0.0.1:9003', pid: dead }));
    expect(writeRunFile(path, { url: 'http://127.0.0.1:9004' })).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8')).url).toBe('http://127.0.0.1:9004');
    removeRunFile(path);
    expect(readRunFile(path)).toBeUndefined();
  });

  it('the CLI takes RECHARGEFLOW_URL first, then a live run file (with its key), then the default', () => {
    const path = join(dir, 'locate.json');
    writeFileSync(
      path,
      JSON.stringify({ url: 'http://127.0.0.1:9005/', pid: process.pid, apiKey: 'demo-key' }),
    );
    const env = { RECHARGEFLOW_RUN_FILE: path };
    expect(locateApi(env)).toEqual({
      url: 'http://127.0.0.1:9005',
      key: 'demo-key',
      from: `npm start, pid ${process.pid}`,
    });
    expect(
      locateApi({ ...env, RECHARGEFLOW_URL: 'https://api.example/', RECHARGEFLOW_API_KEY: 'mine' }),
    ).toEqual({
      url: 'https://api.example',
      key: 'mine',
      from: 'RECHARGEFLOW_URL',
    });
    writeFileSync(path, JSON.stringify({ url: 'http://127.0.0.1:9005', pid: deadPid(), apiKey: 'demo-key' }));
    expect(locateApi(env)).toMatchObject({ url: DEFAULT_URL, key: undefined });
    writeFileSync(path, 'not json');
    expect(locateApi(env).url).toBe(DEFAULT_URL);
    expect(() => locateApi({ RECHARGEFLOW_URL: 'localhost:8080' })).toThrow(/not an http\(s\) URL/);
    expect(runFilePath({})).toMatch(/\/\.rechargeflow\/run\.json$/);
  });
});
