import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore, type LedgerStore, loadMongoLedgerStore } from '@rechargeflow/ledger';
import { deleteByPrefix } from '@rechargeflow/testkit';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWorld, describeRun, parseGroups } from './model/invariants.ts';
import { type Program, programArb, STEP_KINDS, type StepKind } from './model/program.ts';
import { runWorld } from './model/world.ts';

/**
 * Model-based concurrency test (issue 12). Each run builds a few orders, then follows a random
 * program of steps against the real ledger and the real `orders` code: job runs whose provider
 * calls wait for the program to answer them (success, refusal, pending, ambiguous, not sent),
 * crashes and redeliveries of those runs, callbacks delivered early, late, twice, about earlier
 * attempts and forged, status checks (honest, lagging, down), sweeps, a queue that loses adds, and
 * operators. Then everything settles and the ledger is checked against the model providers' books
 * (model/invariants.ts says what is checked and why).
 *
 * Environment:
 *   FC_SEED=<n> [FC_PATH=<path>]  replay a run (both are printed when a run fails)
 *   FC_RUNS=<n>                    runs per store (default 3000)
 *   FC_TIME_LIMIT_MS=<ms>          stop starting new runs after this long (default 60000)
 *   FC_MONGO_TIME_LIMIT_MS=<ms>    the same for the MongoDB ledger (default 30000)
 *   FC_STEPS=<n>                   most steps in a program (default 60)
 *   FC_CHECK=books,history,...     which invariant groups to check (default all)
 *   FC_STEPS_OFF=forge,...         step kinds never generated (to look past a known failure)
 *   FC_PROGRAM='{"orders":...}'    run this program first (e.g. a counterexample, edited)
 *   MONGO_URL                      also run against the MongoDB ledger
 *   FC_STORE=redis|mongo           only that store's property
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MONGO_URL = process.env.MONGO_URL || undefined;
/** FC_STORE=redis|mongo: run one store's property only (a replay names the one that failed). */
const only = process.env.FC_STORE || undefined;
if (only !== undefined && only !== 'redis' && only !== 'mongo') throw new Error('FC_STORE: redis or mongo');
const prefix = `rf-test-interleavings-${randomUUID().slice(0, 8)}`;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, not ${raw}`);
  return value;
}

const seed = envNumber('FC_SEED', Math.floor(Math.random() * 2 ** 31));
const path = process.env.FC_PATH || undefined;
const numRuns = envNumber('FC_RUNS', 3_000);
const timeLimitMs = envNumber('FC_TIME_LIMIT_MS', 60_000);
/** MongoDB is slower per write; its property gets its own budget, so the file stays bounded. */
const mongoTimeLimitMs = envNumber('FC_MONGO_TIME_LIMIT_MS', 30_000);
const maxSteps = envNumber('FC_STEPS', 60);
const checks = parseGroups(process.env.FC_CHECK);
const stepsOff = new Set<StepKind>(
  (process.env.FC_STEPS_OFF ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
    .map((k) => {
      if (!(STEP_KINDS as readonly string[]).includes(k)) throw new Error(`FC_STEPS_OFF: unknown step ${k}`);
      return k as StepKind;
    }),
);

/** FC_PROGRAM: a program (JSON, as a counterexample prints it) run first, then shrunk if it fails. */
const examples: [Program][] = process.env.FC_PROGRAM ? [[JSON.parse(process.env.FC_PROGRAM) as Program]] : [];

/** A fresh, empty ledger view per run: nothing a run leaves behind is seen by the next one. */
interface RunStores {
  next(run: number): Promise<{ ledger: LedgerStore; clientId: string; cleanup(): Promise<void> }>;
}

async function checkInterleavings(label: string, stores: RunStores, limitMs: number): Promise<void> {
  let started = 0;
  const execute = async (program: Program) => {
    started++;
    const { ledger, clientId, cleanup } = await stores.next(started);
    try {
      const world = await runWorld(ledger, clientId, program);
      const violations = await checkWorld(world, checks);
      if (violations.length > 0) throw new Error(await describeRun(world, violations));
    } finally {
      await cleanup();
    }
  };
  // The time limit stops waiting for a run, not the run itself: it is awaited before the store goes.
  let running: Promise<unknown> = Promise.resolve();
  const property = fc.asyncProperty(programArb(maxSteps, stepsOff), (program) => {
    const run = execute(program);
    running = run.catch(() => undefined);
    return run;
  });
  const t0 = performance.now();
  const details = await fc.check(property, {
    seed,
    ...(path ? { path, endOnFailure: true } : {}),
    numRuns,
    examples,
    interruptAfterTimeLimit: limitMs,
    markInterruptAsFailure: false,
  });
  await running;
  const seconds = Math.round((performance.now() - t0) / 1000);
  const shrinking = details.failed ? `, ${details.numShrinks} shrinks` : '';
  console.log(
    `interleavings (${label}): ${details.numRuns} runs${details.interrupted ? ' (time limit reached)' : ''}${shrinking}, ${started} executions, seed ${seed}, ${seconds} s, checks ${[...checks].join(',')}`,
  );
  if (!details.failed) return;
  const replay = [
    `FC_SEED=${seed}`,
    `FC_PATH=${details.counterexamplePath ?? ''}`,
    ...(['FC_CHECK', 'FC_STEPS_OFF', 'FC_STEPS'] as const).flatMap((name) =>
      process.env[name] ? [`${name}=${process.env[name]}`] : [],
    ),
    ...(MONGO_URL ? [`FC_STORE=${label}`] : []),
    'node node_modules/vitest/vitest.mjs run packages/orders/test/interleavings.test.ts',
  ].join(' ');
  const error = details.errorInstance;
  const why = error instanceof Error ? error.message : String(error);
  const message = [
    `interleavings (${label}) failed after ${details.numRuns} runs; replay: ${replay}`,
    `counterexample: ${fc.stringify(details.counterexample)}`,
    why,
  ].join('\n');
  console.log(message);
  expect.fail(message);
}

const testTimeoutMs = timeLimitMs * 2 + 60_000;

describe.skipIf(only === 'mongo')('order handling under random interleavings (Redis ledger)', () => {
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it(
    'keeps the ledger true to the providers books',
    async () => {
      await checkInterleavings(
        'redis',
        {
          async next(run) {
            // A store of its own per run: its sweeps see only its own orders.
            const runPrefix = `${prefix}:r${run}`;
            const ledger = createRedisLedgerStore({ redis, prefix: runPrefix });
            await ledger.init();
            return {
              ledger,
              clientId: `${prefix}-r${run}`,
              cleanup: async () => {
                await ledger.close();
              },
            };
          },
        },
        timeLimitMs,
      );
    },
    testTimeoutMs,
  );
});

if (MONGO_URL === undefined || only === 'redis') {
  console.log(`interleavings (MongoDB ledger): SKIPPED (${MONGO_URL ? 'FC_STORE=redis' : 'no MONGO_URL'})`);
  describe.skip('order handling under random interleavings (MongoDB ledger)', () => {
    it('runs where MONGO_URL is set', () => {});
  });
} else {
  describe('order handling under random interleavings (MongoDB ledger)', () => {
    const dbName = `rf_interleavings_${randomUUID().slice(0, 8)}`;
    let connection: Connection;
    let ledger: LedgerStore;

    beforeAll(async () => {
      const { createConnection } = await import('mongoose');
      connection = await createConnection(MONGO_URL, {
        dbName,
        serverSelectionTimeoutMS: 10_000,
      }).asPromise();
      const { createMongoLedgerStore } = await loadMongoLedgerStore();
      ledger = createMongoLedgerStore({ connection });
      await ledger.init();
    }, 60_000);

    afterAll(async () => {
      if (connection !== undefined) {
        await ledger?.close();
        await connection.dropDatabase();
        await connection.close();
      }
    }, 60_000);

    it(
      'keeps the ledger true to the providers books',
      async () => {
        await checkInterleavings(
          'mongo',
          {
            async next(run) {
              const clientId = `${prefix}-r${run}`;
              return {
                ledger,
                clientId,
                // One store for every run: the run's orders go, so later sweeps never meet them.
                cleanup: async () => {
                  await connection.collection('orders').deleteMany({ clientId });
                },
              };
            },
          },
          mongoTimeLimitMs,
        );
      },
      testTimeoutMs,
    );
  });
}
