import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, runCommand } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';
import { WORKER_NODE_FLAGS } from '../src/node-flags.ts';

const read = (path: string) => readFileSync(resolve(REPO_ROOT, path), 'utf8');

describe("the worker's Node flags", () => {
  it('are the ones npm run start:worker and the compose file start it with', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:worker']).toBe(
      `bash scripts/bootstrap.sh node ${WORKER_NODE_FLAGS.join(' ')} apps/worker/src/main.ts`,
    );
    const command = /^ {4}command: (\[.*"apps\/worker\/src\/main\.ts"\])$/m.exec(read('docker/compose.yaml'));
    expect(JSON.parse(command?.[1] ?? '[]')).toEqual([...WORKER_NODE_FLAGS, 'apps/worker/src/main.ts']);
  });

  it('are accepted by this Node on the command line and set in V8', () => {
    // V8's own flag table, read back: deterministic, unlike the new space's size after a burst of
    // allocation, which under a loaded machine went from 8 MB to 24 MB with the same flags.
    const probe = runCommand(process.execPath, [...WORKER_NODE_FLAGS, '--print-flag-values', '-e', '0']);
    expect(probe.ok, probe.stderr).toBe(true);
    const values = new Set(probe.stdout.split('\n').map((line) => line.trim()));
    for (const flag of WORKER_NODE_FLAGS) expect(values.has(flag), flag).toBe(true);
  });
});
