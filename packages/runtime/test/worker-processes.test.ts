import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, runCommand } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';
import { WORKER_PROCESSES, WORKER_QUEUES, workerProcessOf, workerQueuesOf } from '../src/worker-processes.ts';

const read = (path: string) => readFileSync(resolve(REPO_ROOT, path), 'utf8');
const MAIN = 'apps/worker/src/main.ts';

/** One compose service's block: from its `  name:` line to the next service. */
function composeService(name: string): string {
  const compose = read('docker/compose.yaml');
  const start = compose.indexOf(`\n  ${name}:\n`);
  expect(start, name).toBeGreaterThan(0);
  const next = compose.slice(start + 1).search(/\n {2}[a-z][a-z0-9_-]*:\n/);
  return compose.slice(start + 1, next < 0 ? undefined : start + 1 + next);
}

describe('the two kinds of worker process', () => {
  it('between them consume every queue, each queue once', () => {
    const all = Object.values(WORKER_PROCESSES).flatMap((p) => [...p.queues]);
    expect([...all].sort()).toEqual([...WORKER_QUEUES].sort());
    expect(new Set(all).size).toBe(all.length);
  });

  it('are told apart by what they consume, in any order; any other mix is neither', () => {
    expect(workerProcessOf(['batches'])).toBe('importer');
    expect(workerProcessOf(['webhooks', 'recharges'])).toBe('worker');
    expect(workerProcessOf([...WORKER_QUEUES])).toBeUndefined();
    expect(workerProcessOf(['recharges'])).toBeUndefined();
  });

  it('are started by npm run start:worker and start:importer as defined', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['worker', 'importer'] as const) {
      const flags = WORKER_PROCESSES[name].nodeFlags;
      expect(scripts[`start:${name}`], name).toBe(
        `WORKER_QUEUES=${workerQueuesOf(name)} bash scripts/bootstrap.sh node ${[...flags, MAIN].join(' ')}`,
      );
    }
  });

  it('are the compose services worker and importer as defined', () => {
    for (const name of ['worker', 'importer'] as const) {
      const service = composeService(name);
      const command = /^ {4}command: (\[.*\])$/m.exec(service)?.[1];
      expect(JSON.parse(command ?? '[]'), name).toEqual([...WORKER_PROCESSES[name].nodeFlags, MAIN]);
      expect(/^ {6}WORKER_QUEUES: (\S+)$/m.exec(service)?.[1], name).toBe(workerQueuesOf(name));
    }
  });

  it('have Node flags this Node accepts on the command line and sets in V8', () => {
    for (const [name, { nodeFlags }] of Object.entries(WORKER_PROCESSES)) {
      expect(nodeFlags.length, name).toBeGreaterThan(0);
      // V8's own flag table, read back: deterministic, unlike the new space's size after a burst of
      // allocation, which under a loaded machine went from 8 MB to 24 MB with the same flags.
      const probe = runCommand(process.execPath, [...nodeFlags, '--print-flag-values', '-e', '0']);
      expect(probe.ok, probe.stderr).toBe(true);
      const values = new Set(probe.stdout.split('\n').map((line) => line.trim()));
      for (const flag of nodeFlags) expect(values.has(flag), `${name}: ${flag}`).toBe(true);
    }
  });
});
