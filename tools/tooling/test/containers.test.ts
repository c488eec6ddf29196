import { REPO_ROOT, startProcess } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';

/** Runs check-containers.ts with the given checks; its lines are printed (SKIPPED stays visible). */
async function checkContainers(...checks: string[]): Promise<{ code: number | null; output: string }> {
  const run = startProcess({
    label: 'check-containers',
    args: ['tools/tooling/src/check-containers.ts', ...checks],
    cwd: REPO_ROOT,
  });
  const code = await run.closed;
  const output = run.lines.map((line) => `${line}\n`).join('');
  process.stdout.write(output);
  return { code, output };
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
