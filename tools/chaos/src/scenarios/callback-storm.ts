import { type Order, type OrderState, providerOrderId } from '@rechargeflow/domain';
import type { CallbackOutcome } from '@rechargeflow/ledger';
import {
  a1Order,
  Checks,
  CLIENT,
  pool,
  round,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  System,
  sleep,
  tally,
  waitFor,
} from '../harness.ts';

interface Group {
  readonly name: string;
  readonly amount: number;
  /** The states the order must pass through, each exactly once. */
  readonly path: readonly OrderState[];
  readonly what: string;
}

const GROUPS: readonly Group[] = [
  {
    name: 'late-success',
    amount: 17,
    path: ['queued', 'processing', 'pending', 'success'],
    what: 'Pending, then Success: 5 concurrent Success callbacks (and status checks racing them)',
  },
  {
    name: 'late-failure',
    amount: 19,
    path: ['queued', 'processing', 'pending', 'failed'],
    what: 'Pending, then Failure: 5 concurrent Failure callbacks',
  },
  {
    name: 'reversal',
    amount: 23,
    path: ['queued', 'processing', 'success', 'reversed'],
    what: 'Success, then reversed: 5 concurrent Failure callbacks, confirmed by the status API',
  },
  {
    name: 'early-callback',
    amount: 29,
    path: ['queued', 'processing', 'success'],
    what: '5 concurrent Success callbacks arrive while the worker still waits for the (slow) answer',
  },
  {
    name: 'duplicate-success',
    amount: 10,
    path: ['queued', 'processing', 'success'],
    what: 'Success answered, then 5 concurrent Success callbacks',
  },
];

const OUTCOMES: readonly CallbackOutcome[] = [
  'received',
  'applied',
  'no_change',
  'unknown_order',
  'reversal_not_confirmed',
  'ignored',
  'not_confirmed',
  'conflict',
];

/**
 * Every callback the simulator sends comes 5 times, at once (SIM_CALLBACK_COPIES=5,
 * SIM_CALLBACK_CONCURRENT=on), for late results and reversals; callbacks also arrive before the
 * worker has the provider's answer; then every order gets stale and duplicate callbacks again, out
 * of order (an old Success after its reversal), all orders at once in random order. Each order must
 * change exactly once per real event: its history is exactly its expected path.
 */
export const callbackStorm: Scenario = {
  name: 'callback-storm',
  title: '5 concurrent copies of every callback, early, late, stale and out of order',
  budgetMs: 150_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const k = ctx.sized(100, 10);
    const system = new System({
      name: 'storm',
      workers: 2,
      callbacks: true,
      env: { PROVIDER_TIMEOUT_MS: '6000' },
      simEnv: {
        SIM_CALLBACK_COPIES: '5',
        SIM_CALLBACK_CONCURRENT: 'on',
        SIM_SETTLE_AFTER_MS: '2500',
        SIM_SLOW_MS: '3000',
      },
      workerEnv: { A1TOPUP_CONCURRENCY: '40' },
      // Status checks every 2 s race the callbacks for the pending orders.
      pollerEnv: { CALLBACK_CONCURRENCY: '20', STATUS_POLL_SCHEDULE: '2' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      ctx.say(`deleted ${await system.cleanup()} keys`);
    });
    await system.start();

    const planned = GROUPS.flatMap((g) =>
      Array.from({ length: k }, (_, i) => ({ group: g, orderId: `cs-${g.name}-${i}` })),
    );
    const numberOf = (index: number) => String(9_300_000_000 + index);
    const poid = (orderId: string) => providerOrderId({ clientId: CLIENT, orderId }, 1);
    const t0 = performance.now();
    const isEarly = (p: (typeof planned)[number]) => p.group.name === 'early-callback';
    const bodies = planned.map((p, i) => a1Order(p.orderId, p.group.amount, numberOf(i)));
    const submitted = await system.submitAll(
      bodies.filter((_, i) => !isEarly(planned[i]!)),
      { concurrency: 8 },
    );
    checks.expect(submitted.refused.length === 0, `${submitted.refused.length} submissions refused`);

    // Early callbacks: as soon as the simulator has a slow order (it is already Success there),
    // its Success callback comes 5 times at once, while the worker still waits for the answer.
    const early = planned.filter(isEarly);
    const earlyResults = await pool(early, 10, async (p) => {
      const answer = await system.post('/v1/recharges', bodies[planned.indexOf(p)]);
      if (answer.status !== 202) checks.expect(false, `${p.orderId} refused: HTTP ${answer.status}`);
      await waitFor(
        `simulator to record ${p.orderId}`,
        async () => ((await system.simOrders([poid(p.orderId)])).get(poid(p.orderId)) ? true : undefined),
        30_000,
        20,
      );
      const before = (await system.ledger.getOrder({ clientId: CLIENT, orderId: p.orderId }))?.state;
      await sendCallbacks(system, { orderid: poid(p.orderId), copies: 5, concurrent: true });
      return before;
    });
    const earlyWhileProcessing = earlyResults.filter((s) => s === 'processing').length;

    // Let the automatic callbacks (settle, reversal) come and be applied.
    const settled = await system.waitSettled(ctx.say, 60_000);
    checks.expect(settled, 'orders still in progress');
    await waitFor(
      'the reversals',
      async () => ((await system.counts()).reversed >= k ? true : undefined),
      60_000,
      200,
    ).catch(() => checks.expect(false, 'not every reversal was applied'));
    await sleep(1_000);

    // Replays: stale and duplicate callbacks, every order at once, in random order.
    const replays = shuffle(
      planned.map((p) => {
        const g = p.group.name;
        const sequence =
          g === 'reversal'
            ? [{ status: 'Success' }, { status: 'Failure' }]
            : g === 'late-failure'
              ? [{ status: 'Failure' }]
              : [{ status: 'Success' }];
        return { orderid: poid(p.orderId), sequence, copies: 5, concurrent: true };
      }),
    );
    await pool(replays, 16, (r) => sendCallbacks(system, r));
    // Wait until every stored callback has been handled.
    await waitFor(
      'every callback handled',
      async () =>
        (await system.ledger.findCallbacks('received', new Date(Date.now() + 60_000).toISOString(), 1))
          .length === 0
          ? true
          : undefined,
      60_000,
      250,
    ).catch(() => checks.expect(false, 'callbacks still waiting to be applied'));
    await sleep(1_500);
    const seconds = (performance.now() - t0) / 1000;

    const orders = await system.readOrders(planned.map((p) => p.orderId));
    const wrong: string[] = [];
    let repeatedTransition = 0;
    const settledBy: Record<string, string[]> = {};
    for (const p of planned) {
      const order = orders.get(p.orderId) ?? null;
      if (!order) {
        wrong.push(`${p.orderId} missing`);
        continue;
      }
      // Facts that change nothing (duplicates, stale copies) are kept as same-state history lines;
      // the path is the state changes, each exactly once.
      const trail = order.history.filter((h, i) => i === 0 || h.from !== h.to).map((h) => h.to);
      if (new Set(trail).size !== trail.length) repeatedTransition += 1;
      if (trail.join('>') !== p.group.path.join('>'))
        wrong.push(`${p.orderId}: ${describe(order)} (expected ${p.group.path.join('>')})`);
      const sources = settledBy[p.group.name] ?? [];
      settledBy[p.group.name] = sources;
      sources.push(order.history.at(-1)?.source ?? '?');
    }
    const stats = await system.simStats();
    const stored = (
      await Promise.all(
        OUTCOMES.map((o) =>
          system.ledger.findCallbacks(o, new Date(Date.now() + 60_000).toISOString(), 1_000),
        ),
      )
    ).flat();
    const copies = stored.reduce((sum, c) => sum + c.copies, 0);
    const byOutcome = tally(stored.map((c) => c.outcome));
    const crashed = system.crashed();

    checks.expect(
      wrong.length === 0,
      `${wrong.length} orders with a wrong history (${wrong.slice(0, 3).join('; ')})`,
    );
    checks.expect(repeatedTransition === 0, `${repeatedTransition} orders entered a state twice`);
    checks.expect(
      stats.callbacks.failed === 0,
      `${stats.callbacks.failed} callbacks not delivered (HTTP or network)`,
    );
    checks.expect(
      copies === stats.callbacks.delivered,
      `ledger counted ${copies} copies, simulator delivered ${stats.callbacks.delivered}`,
    );
    checks.expect(earlyWhileProcessing > 0, 'no callback arrived while its order was still processing');
    checks.expect(crashed.length === 0, `processes died: ${crashed.join(', ')}`);

    checks.figure('orders', `${planned.length} (${GROUPS.length} groups x ${k})`);
    for (const g of GROUPS)
      checks.figure(
        `  ${g.name}`,
        `${g.what}; path ${g.path.join('>')}; final change by ${JSON.stringify(tally(settledBy[g.name] ?? []))}`,
      );
    checks.figure(
      'early callbacks sent while the order was processing',
      `${earlyWhileProcessing}/${early.length} orders`,
    );
    checks.figure(
      'callbacks delivered by the simulator',
      `${stats.callbacks.delivered} (sent ${stats.callbacks.sent}, failed ${stats.callbacks.failed})`,
    );
    checks.figure('stored callbacks (deduplicated)', `${stored.length} records, ${copies} copies counted`);
    checks.figure('stored callbacks by outcome', JSON.stringify(byOutcome));
    checks.figure('orders with a history other than expected', wrong.length);
    checks.figure('orders that entered a state twice', repeatedTransition);
    checks.figure('took', `${round(seconds)} s`);
    return checks.result(
      `${planned.length} orders, ${stats.callbacks.delivered} callback deliveries, every order changed exactly once per event`,
    );
  },
};

async function sendCallbacks(system: System, request: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${system.sim}/_sim/callbacks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (!res.ok) throw new Error(`simulator /_sim/callbacks: HTTP ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

function describe(order: Order): string {
  return order.history.map((h) => `${h.to}[${h.source}]`).join('>');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
