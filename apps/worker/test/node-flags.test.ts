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

  it('are accepted by this Node on the command line and take effect', () => {
    // After a burst of allocation the new space has grown as far as it may: with 4 MB semi-spaces
    // a few MB (Node's own sizing on this machine lets it reach well over 100 MB).
    const probe = runCommand(process.execPath, [
      ...WORKER_NODE_FLAGS,
      '-e',
      "const kept = []; for (let i = 0; i < 3e6; i++) kept.push({ i }); const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space'); console.log(s.space_size, kept.length)",
    ]);
    expect(probe.ok, probe.stderr).toBe(true);
    expect(Number(probe.stdout.split(' ')[0])).toBeLessThanOrEqual(3 * 4 * 1024 * 1024);
  });
});
