/**
 * The chaos suite: `npm run chaos` runs every scenario; `npm run chaos -- kill-workers redis-restart`
 * runs the named ones. Each scenario starts the whole system as real processes on its own key
 * prefix, breaks something on purpose, checks that no order was lost or carried out twice, prints
 * its figures and one `PASS <scenario>: ...` or `FAIL <scenario>: ...` line, and removes its keys.
 * Exit code 1 if any scenario failed. See docs/reliability.md.
 *
 * Environment: REDIS_URL (default redis://127.0.0.1:6379, must be noeviction), CHAOS_SCALE (default
 * 1; e.g. 0.1 for a quick run with a tenth of the orders).
 */
import { cpus, freemem, totalmem } from 'node:os';
import { ENV, type Scenario, type ScenarioContext, type ScenarioResult, SYSTEMS } from './harness.ts';
import { callbackStorm } from './scenarios/callback-storm.ts';
import { failoverRace } from './scenarios/failover-race.ts';
import { garbageAnswers } from './scenarios/garbage-answers.ts';
import { killWorkers } from './scenarios/kill-workers.ts';
import { providerOutage, providerOutageKeepAlive } from './scenarios/provider-outage.ts';
import { redisRestart } from './scenarios/redis-restart.ts';
import { secretGrep } from './scenarios/secret-grep.ts';

const SCENARIOS: readonly Scenario[] = [
  killWorkers,
  redisRestart,
  providerOutage,
  providerOutageKeepAlive,
  garbageAnswers,
  callbackStorm,
  failoverRace,
  secretGrep,
];

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function runOne(scenario: Scenario, scale: number): Promise<ScenarioResult> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const budgetMs = Math.round(scenario.budgetMs * Math.max(scale, 0.4));
  const ctx: ScenarioContext = {
    scale,
    deadline: Date.now() + budgetMs,
    say: (line) => out(`[${scenario.name}] ${line}`),
    onCleanup: (task) => cleanups.push(task),
    sized: (full, min = 1) => Math.max(min, Math.round(full * scale)),
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ScenarioResult>((done) => {
    timer = setTimeout(
      () =>
        done({
          pass: false,
          summary: `did not finish within its ${Math.round(budgetMs / 1000)} s budget`,
          figures: {},
          problems: ['timed out'],
        }),
      budgetMs,
    );
  });
  let result: ScenarioResult;
  current = { cleanups, say: ctx.say };
  try {
    const running = scenario.run(ctx);
    // After a timeout the scenario may still fail in the background as its system is torn down.
    running.catch(() => undefined);
    result = await Promise.race([running, timeout]);
  } catch (error) {
    result = {
      pass: false,
      summary: `crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      figures: {},
      problems: ['crashed'],
    };
  } finally {
    clearTimeout(timer);
  }
  await runCleanups();
  current = undefined;
  // A failed scenario keeps its processes' logs (the systems are stopped by now).
  if (!result.pass)
    for (const system of SYSTEMS.splice(0)) ctx.say(`logs of every process kept in ${system.saveLogs()}`);
  SYSTEMS.length = 0;
  return result;
}

/** The running scenario's clean-ups (stop its processes, delete its keys), for Ctrl-C too. */
let current: { cleanups: (() => Promise<unknown>)[]; say: (line: string) => void } | undefined;

async function runCleanups(): Promise<void> {
  const scenario = current;
  if (!scenario) return;
  while (scenario.cleanups.length > 0) {
    const task = scenario.cleanups.pop()!;
    await task().catch((error: unknown) => scenario.say(`clean-up failed: ${String(error)}`));
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    out(`\n${signal}: stopping the running scenario's processes and deleting its keys (again to force)`);
    const force = setTimeout(() => process.exit(130), 30_000);
    void runCleanups().finally(() => {
      clearTimeout(force);
      process.exit(130);
    });
  });
}

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    out(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const chosen = names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  const scale = Number(ENV.CHAOS_SCALE ?? 1);
  if (!(scale > 0 && scale <= 10)) {
    out('CHAOS_SCALE must be a number above 0 and at most 10');
    process.exit(2);
  }
  out(
    `chaos suite: ${chosen.map((s) => s.name).join(', ')} (scale ${scale}); ${cpus().length} CPUs, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB RAM (${Math.round(freemem() / 2 ** 30)} free), Node ${process.version}, ` +
      `${new Date().toISOString()}`,
  );
  const started = performance.now();
  const lines: string[] = [];
  for (const scenario of chosen) {
    out(`\n=== ${scenario.name}: ${scenario.title}`);
    const t0 = performance.now();
    const result = await runOne(scenario, scale);
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    for (const [name, value] of Object.entries(result.figures)) out(`  ${name}: ${value}`);
    const line = `${result.pass ? 'PASS' : 'FAIL'} ${scenario.name}: ${result.summary} [${seconds} s]`;
    out(line);
    lines.push(line);
  }
  const total = Math.round((performance.now() - started) / 1000);
  out(`\n=== summary (${total} s)`);
  for (const line of lines) out(line);
  const failed = lines.filter((l) => l.startsWith('FAIL')).length;
  out(`${chosen.length - failed} passed, ${failed} failed`);
  // Children are gone by now; do not wait for sockets the fetch pool keeps alive.
  process.exit(failed > 0 ? 1 : 0);
}

await main();
