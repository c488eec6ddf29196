import { spawn } from 'node:child_process';
import { REPO_ROOT } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';

/** Runs scripts/check-containers.ts with the given checks; its lines are printed (SKIPPED stays visible). */
function checkContainers(...checks: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['scripts/check-containers.ts', ...checks], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('exit', (code) => {
      process.stdout.write(output);
      done({ code, output });
    });
  });
}

describe('containers (docker/, .dockerignore)', () => {
  it('compose file, Prometheus and Grafana configuration pass their checks', async () => {
    const { code, output } = await checkContainers('compose', 'prometheus');
    expect(output, output).not.toMatch(/FAILED/);
    expect(code, output).toBe(0);
    expect(output).toMatch(/containers: compose: (ok|SKIPPED)/);
    expect(output).toMatch(/containers: prometheus: (ok|SKIPPED)/);
  }, 120_000);

  it('the image install (production dependencies only) runs every part and a recharge', async () => {
    const { code, output } = await checkContainers('prod');
    expect(output, output).not.toMatch(/FAILED/);
    expect(code, output).toBe(0);
    expect(output).toMatch(/containers: prod: (ok|SKIPPED)/);
  }, 240_000);
});
