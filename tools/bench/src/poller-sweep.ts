/**
 * `poller-sweep`: N (default 100,000) `pending` orders whose first status check is due, swept by
 * the poller app (a real process) asking the simulator's status API (0 ms), until every one has
 * been checked once and settled (`success`).
 *
 * Setup (not timed): the simulator answers every new recharge `Pending` and settles it 1 ms later
 * (SIM_PENDING_RATE=1, SIM_SETTLE_AFTER_MS=1); the orders are written straight into the Redis
 * ledger (createOrders, 1,000 per call) and each is carried through the worker's own code
 * (processRecharge, in this process: queued → processing → call → pending) with its first check
 * due at once (firstCheckAfterMs 0).
 * Baseline (same run): the same N status calls straight to the simulator with the A1Topup client,
 * at the poller's STATUS_CHECK_CONCURRENCY, in a child process (tools/bench/src/raw-status.ts).
 * Sweep: the poller's queue is paused while it starts; the clock starts when it is resumed and
 * stops at the last order's `success` (its updatedAt). The simulator's status-call counter shows
 * whether any order was asked about twice.
 */
import { resolve } from 'node:path';
import { processRecharge } from '@rechargeflow/orders';
import { createA1TopupProvider } from '@rechargeflow/providers';
import { startProcess } from '@rechargeflow/testkit';
import type { Redis } from 'ioredis';
import { inLanes } from './http-client.ts';
import {
  deleteByPrefix,
  fmt,
  load1,
  PART_TIMEOUT_MS,
  type Part,
  redisMeter,
  runPrefix,
  SIM_PASSWORD,
  SIM_USER,
  say,
  type Table,
  trackPart,
  until,
} from './lib.ts';
import {
  countInState,
  lastChangeIn,
  prequeueOrders,
  startPoller,
  startSystem,
  stateCounts,
} from './system.ts';

export interface SweepOptions {
  readonly orders: number;
  readonly logDir: string;
  /** Poller settings of the measured sweep (defaults below). */
  readonly batch?: number;
  readonly concurrency?: number;
  readonly intervalMs?: number;
  /** When set, the poller runs with --cpu-prof, writing poller.cpuprofile here. */
  readonly profileDir?: string | undefined;
}

const silent = { info() {}, warn() {}, error() {} };

async function simStatusCalls(simUrl: string): Promise<number> {
  const response = await fetch(`${simUrl}/_sim/stats`);
  const stats = (await response.json()) as { requests: { status: number } };
  return stats.requests.status;
}

async function rawStatus(simUrl: string, tag: string, count: number, concurrency: number) {
  // Reports one line on stdout; its stderr goes to the terminal.
  const child = startProcess({
    label: 'raw-status',
    args: [
      resolve(import.meta.dirname, 'raw-status.ts'),
      JSON.stringify({ simUrl, username: SIM_USER, password: SIM_PASSWORD, tag, count, concurrency }),
    ],
    stdout: 'capture',
    stderr: 'inherit',
  });
  trackPart(child);
  const code = await child.closed;
  const out = child.lines.join('\n');
  const match = /done (\S+) (.*)/.exec(out);
  if (code !== 0 || !match) throw new Error(`raw-status exited with ${code}: ${out}`);
  return { seconds: Number(match[1]), answers: match[2] ?? '' };
}

export interface SweepResult {
  readonly seconds: number;
  readonly rate: number;
  readonly ratio: number;
  readonly table: Table;
  readonly details: string[];
  readonly what: string;
}

export async function pollerSweep(redis: Redis, options: SweepOptions): Promise<SweepResult> {
  const { orders, logDir } = options;
  const batch = options.batch ?? 1_000;
  const concurrency = options.concurrency ?? 50;
  const intervalMs = options.intervalMs ?? 100;
  const prefix = runPrefix('sweep');
  const tag = 'sweep';
  const system = await startSystem({
    prefix,
    logDir,
    simulator: { SIM_PENDING_RATE: '1', SIM_SETTLE_AFTER_MS: '1' },
  });
  const { producer, ledger, keys } = await prequeueOrders(redis, prefix, orders, tag, false).catch(
    async (error: unknown) => {
      await system.stop();
      throw error;
    },
  );
  const provider = createA1TopupProvider({
    baseUrl: system.simUrl,
    username: SIM_USER,
    password: SIM_PASSWORD,
  });
  let poller: Part | undefined;
  try {
    say(`poller-sweep: making ${fmt(orders)} orders pending through processRecharge…`);
    let started = Date.now();
    const deps = {
      ledger,
      producer,
      providers: new Map([[provider.name, provider]]),
      log: silent,
      firstCheckAfterMs: 0,
    };
    await inLanes(orders, 100, async (i) => {
      await processRecharge(deps, keys[i]!, { attempt: 1, isFinalAttempt: false });
    });
    const pending = await countInState(redis, `${prefix}:ledger`, 'pending');
    say(`  ${fmt(pending)} pending after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (pending !== orders) throw new Error(`expected ${orders} pending orders, found ${pending}`);

    const baseLoad = load1();
    say(
      `poller-sweep: baseline, ${fmt(orders)} status calls straight to the simulator, ${concurrency} at a time…`,
    );
    const base = await rawStatus(system.simUrl, tag, orders, concurrency);
    say(`  ${fmt(orders / base.seconds)} calls/s (${base.answers})`);

    const pollerQueue = producer.queue('poller');
    await pollerQueue.pause();
    const load = load1();
    const statusBefore = await simStatusCalls(system.simUrl);
    say(
      `poller-sweep: the poller (STATUS_CHECK_BATCH ${batch}, STATUS_CHECK_CONCURRENCY ${concurrency}, SWEEP_INTERVAL_MS ${intervalMs})…`,
    );
    poller = startPoller(
      prefix,
      system.simUrl,
      logDir,
      {
        STATUS_CHECK_BATCH: String(batch),
        STATUS_CHECK_CONCURRENCY: String(concurrency),
        SWEEP_INTERVAL_MS: String(intervalMs),
      },
      options.profileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, '--cpu-prof-name=poller.cpuprofile']
        : [],
    );
    await poller.waitForLine(/poller running/, PART_TIMEOUT_MS);
    const cpu0 = { poller: poller.cpuSeconds(), simulator: system.cpu().simulator ?? 0 };
    const meter = await redisMeter(redis);
    await pollerQueue.resume();
    started = Date.now();
    const ledgerPrefix = `${prefix}:ledger`;
    let last = -1;
    let lastMove = Date.now();
    await until(
      'every pending order settled',
      async () => {
        const left = await countInState(redis, ledgerPrefix, 'pending');
        if (left !== last) {
          last = left;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > 60_000) {
          throw new Error(`no progress for 60 s: ${JSON.stringify(await stateCounts(redis, ledgerPrefix))}`);
        }
        return left === 0 ? true : undefined;
      },
      3_600_000,
      100,
    );
    const seconds = ((await lastChangeIn(redis, ledgerPrefix, 'success')) - started) / 1000;
    const { cpu: redisCpu } = await meter();
    const pollerCpu = poller.cpuSeconds() - cpu0.poller;
    const simCpu = (system.cpu().simulator ?? 0) - cpu0.simulator;
    const checks = (await simStatusCalls(system.simUrl)) - statusBefore;
    const counts = await stateCounts(redis, ledgerPrefix);
    const rate = orders / seconds;
    const baseRate = orders / base.seconds;
    const defaultsCap = 500 / 5;
    return {
      seconds,
      rate,
      ratio: rate / baseRate,
      table: {
        head: [
          'run',
          'orders',
          'load avg (base / RF)',
          'baseline s',
          'baseline calls/s',
          'sweep s',
          'checks/s',
          'sweep / baseline',
          'status calls made',
        ],
        rows: [
          [
            `batch ${batch}, concurrency ${concurrency}, interval ${intervalMs} ms`,
            fmt(orders),
            `${baseLoad} / ${load}`,
            base.seconds.toFixed(1),
            fmt(baseRate),
            `**${seconds.toFixed(1)}**`,
            fmt(rate),
            `**${(rate / baseRate).toFixed(2)}**`,
            fmt(checks),
          ],
        ],
      },
      details: [
        `- Sweep: CPU s: poller ${pollerCpu.toFixed(1)}, simulator ${simCpu.toFixed(1)}, Redis ${redisCpu.toFixed(1)}; ledger at the end: ${Object.entries(
          counts,
        )
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${s} ${fmt(n)}`)
          .join(
            ', ',
          )}; status calls made by the poller: ${fmt(checks)} for ${fmt(orders)} orders (each asked about ${checks === orders ? 'exactly once' : 'more than once'}).`,
        `- Baseline answers: ${base.answers}.`,
        `- Before STATUS_SWEEP_BUDGET_MS (default 10 s: a sweep keeps claiming full batches), the defaults (STATUS_CHECK_BATCH 500, SWEEP_INTERVAL_MS 5000) allowed at most ${defaultsCap} checks/s: ${fmt(orders)} due orders took at least ${fmt(orders / defaultsCap)} s (${(orders / defaultsCap / 60).toFixed(0)} min) whatever the speed of the checks.`,
      ],
      what: `${fmt(orders)} pending orders, all due, one poller process against the simulator's status API at 0 ms. Poller settings: STATUS_CHECK_BATCH ${batch}, STATUS_CHECK_CONCURRENCY ${concurrency}, SWEEP_INTERVAL_MS ${intervalMs}. Baseline: the same status calls straight to the simulator with the A1Topup client, ${concurrency} at a time, in its own process.`,
    };
  } finally {
    await poller?.stop(PART_TIMEOUT_MS);
    await provider.close();
    await producer.close();
    await ledger.close();
    await system.stop();
    await deleteByPrefix(redis, prefix);
  }
}
