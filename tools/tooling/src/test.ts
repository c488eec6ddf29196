/**
 * `npm test`: every check CI relies on, in order, stopping at nothing so one run shows all
 * failures: typecheck + lint of every workspace member (Turborepo: apps, packages and tools) and of
 * the root's vitest.config.ts, the import rules, then the whole vitest suite against the real
 * Redis. Ends with one line `N passed, N failed, N skipped`.
 * `--checks-only` skips the test suite. Extra arguments go to vitest (e.g. a path filter).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT as root, runCommand } from '@rechargeflow/testkit';

const args = process.argv.slice(2);
const checksOnly = args.includes('--checks-only');
const vitestArgs = args.filter((a) => a !== '--checks-only');
const failures: string[] = [];

function step(name: string, command: string, commandArgs: string[]): void {
  process.stdout.write(`\n== ${name}\n`);
  const result = runCommand(command, commandArgs, { cwd: root, output: 'inherit' });
  if (!result.ok) failures.push(`${name} (exit ${result.status ?? result.signal})`);
}

step('typecheck and lint (turbo)', 'turbo', [
  'run',
  'typecheck',
  'lint',
  '--concurrency=2',
  '--output-logs=errors-only',
]);
step('typecheck root config', 'tsc', ['-p', 'tsconfig.json']);
step('lint root config', 'biome', ['check', 'vitest.config.ts']);
step('import rules', process.execPath, ['tools/tooling/src/check-imports.ts']);

let summary = '';
if (!checksOnly) {
  const outDir = join(root, '.rechargeflow');
  const outFile = join(outDir, 'test-results.json');
  mkdirSync(outDir, { recursive: true });
  rmSync(outFile, { force: true });
  step('test suite (vitest)', 'vitest', [
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${outFile}`,
    ...vitestArgs,
  ]);
  try {
    const report = JSON.parse(readFileSync(outFile, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
    summary = `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + report.numTodoTests} skipped`;
  } catch {
    failures.push('test suite produced no report');
  }
}

process.stdout.write('\n');
if (failures.length > 0) process.stdout.write(`FAILED: ${failures.join('; ')}\n`);
if (summary) process.stdout.write(`${summary}\n`);
process.exit(failures.length > 0 ? 1 : 0);
