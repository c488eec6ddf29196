import type { Order } from '@rechargeflow/domain';
import {
  a1Order,
  Checks,
  pool,
  round,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  System,
  telgoo5Order,
} from '../harness.ts';

/** Simulator magic amounts whose answer cannot be read (HTTP 200 each time, money moved). */
const UNREADABLE: Readonly<Record<number, string>> = {
  37: 'garbage text',
  41: 'HTML page',
  43: 'empty body',
  59: '1 MiB body (over the limit)',
  71: '1 byte per second',
};

interface Planned {
  readonly orderId: string;
  readonly provider: 'a1topup' | 'telgoo5';
  readonly kind: string;
  readonly mdn: string;
  readonly body: Record<string, unknown>;
}

/**
 * Both providers answer garbage, an HTML page, an empty body, an oversized body, or trickle a real
 * answer at one byte per second (simulator magic amounts 37, 41, 43, 59, 71; each of them carried
 * the recharge out). No order may be finalised from such an answer: A1Topup orders go pending and
 * the status API settles them; Telgoo5 (no status API) orders go to manual_review. Plain orders
 * (a success, a definite failure) run alongside and must still be decided by the worker. No
 * process may crash.
 */
export const garbageAnswers: Scenario = {
  name: 'garbage-answers',
  title: 'providers answering garbage, HTML, empty, oversized and 1-byte-per-second bodies',
  budgetMs: 150_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const perKind = ctx.sized(20, 4);
    const perKindT5 = ctx.sized(6, 2);
    const system = new System({
      name: 'garbage',
      workers: 2,
      providers: ['a1topup', 'telgoo5'],
      // The breaker is not under test here: garbage in a row must not make plain orders wait.
      env: { BREAKER_FAILURE_THRESHOLD: '1000', PROVIDER_TIMEOUT_MS: '3000' },
      workerEnv: { A1TOPUP_CONCURRENCY: '30', TELGOO5_CONCURRENCY: '10' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      ctx.say(`deleted ${await system.cleanup()} keys`);
    });
    await system.start();
    const config = await system.getJson<{ trickleByteMs: number; oversizeBytes: number }>(
      `${system.sim}/_sim/config`,
    );
    ctx.say(`simulator: trickle ${config.trickleByteMs} ms per byte, oversize ${config.oversizeBytes} bytes`);

    const plan: Planned[] = [];
    let n = 0;
    const a1Kinds: [number, string][] = [
      ...Object.entries(UNREADABLE).map(([a, k]) => [Number(a), k] as [number, string]),
      [10, 'plain success'],
      [13, 'definite failure'],
    ];
    for (const [amount, kind] of a1Kinds) {
      for (let i = 0; i < perKind; i++, n++) {
        const mdn = String(9_400_000_000 + n);
        plan.push({
          orderId: `ga-a1-${amount}-${i}`,
          provider: 'a1topup',
          kind,
          mdn,
          body: a1Order(`ga-a1-${amount}-${i}`, amount, mdn),
        });
      }
    }
    const t5Kinds: [number, string][] = [
      ...Object.entries(UNREADABLE).map(([a, k]) => [Number(a), k] as [number, string]),
      [12, 'plain success'],
    ];
    for (const [amount, kind] of t5Kinds) {
      for (let i = 0; i < perKindT5; i++, n++) {
        const mdn = String(2_065_500_000 + n);
        plan.push({
          orderId: `ga-t5-${amount}-${i}`,
          provider: 'telgoo5',
          kind,
          mdn,
          body: telgoo5Order(`ga-t5-${amount}-${i}`, amount, mdn),
        });
      }
    }
    const t0 = performance.now();
    const submitted = await system.submitAll(
      plan.map((p) => p.body),
      { concurrency: 8 },
    );
    checks.expect(submitted.refused.length === 0, `${submitted.refused.length} submissions refused`);
    const settled = await system.waitSettled(ctx.say, Math.max(10_000, ctx.deadline - Date.now() - 30_000));
    checks.expect(settled, 'orders still queued, processing or pending at the end');
    const seconds = (performance.now() - t0) / 1000;

    const orders = await system.readOrders(plan.map((p) => p.orderId));
    const a1Ids = plan.flatMap((p) => {
      const o = orders.get(p.orderId);
      return p.provider === 'a1topup' && o ? [o.providerOrderId] : [];
    });
    const sim = await system.simOrders(a1Ids);
    const t5Counts = new Map(
      await pool(
        plan.filter((p) => p.provider === 'telgoo5'),
        8,
        async (p) =>
          [
            p.mdn,
            (await system.getJson<{ applied: number }>(`${system.sim}/_sim/telgoo5/topups?mdn=${p.mdn}`))
              .applied,
          ] as const,
      ),
    );

    const finalisedFromGarbage: string[] = [];
    const wrongEnd: string[] = [];
    const outcome: Record<string, Record<string, number>> = {};
    const reasons: Record<string, string> = {};
    let maxSubmissions = 0;
    for (const p of plan) {
      const order = orders.get(p.orderId) ?? null;
      const label = `${p.provider} ${p.kind}`;
      if (!order) {
        wrongEnd.push(`${p.orderId} missing`);
        continue;
      }
      const row = outcome[label] ?? {};
      outcome[label] = row;
      const trail = order.history.map((h) => `${h.to}[${h.source}]`).join('>');
      row[trail] = (row[trail] ?? 0) + 1;
      const submissions =
        p.provider === 'a1topup'
          ? (sim.get(order.providerOrderId)?.submissions ?? 0)
          : (t5Counts.get(p.mdn) ?? 0);
      maxSubmissions = Math.max(maxSubmissions, submissions);
      if (submissions !== 1) wrongEnd.push(`${p.orderId} sent ${submissions} times`);
      const unreadable = !p.kind.startsWith('plain') && p.kind !== 'definite failure';
      if (unreadable) {
        const decidedByWorker = workerFinal(order);
        if (decidedByWorker) finalisedFromGarbage.push(`${p.orderId} ${decidedByWorker}`);
        const note = order.history.find((h) => h.to === 'pending')?.note;
        if (note && !reasons[label])
          reasons[label] = note.replace(/^.*?\): /, '').replace(/; outcome unknown.*$/, '');
        const want = p.provider === 'a1topup' ? 'success' : 'manual_review';
        if (order.state !== want) wrongEnd.push(`${p.orderId} ${order.state}, expected ${want}`);
        if (p.provider === 'a1topup' && order.history.at(-1)?.source !== 'poller')
          wrongEnd.push(`${p.orderId} settled by ${order.history.at(-1)?.source}, not a status check`);
      } else {
        const want = p.kind === 'definite failure' ? 'failed' : 'success';
        if (order.state !== want || order.history.at(-1)?.source !== 'worker')
          wrongEnd.push(
            `${p.orderId} ${order.state} by ${order.history.at(-1)?.source}, expected ${want} by the worker`,
          );
      }
    }
    const crashedDuring = system.crashed();
    const alive = system.alive().length;
    const codes = await system.stop();
    const badExits = Object.entries(codes).filter(([, code]) => code !== 0);

    checks.expect(
      finalisedFromGarbage.length === 0,
      `${finalisedFromGarbage.length} orders finalised from an unreadable answer (${finalisedFromGarbage.slice(0, 3).join(', ')})`,
    );
    checks.expect(
      wrongEnd.length === 0,
      `${wrongEnd.length} orders ended wrongly (${wrongEnd.slice(0, 3).join(', ')})`,
    );
    checks.expect(crashedDuring.length === 0, `processes crashed: ${crashedDuring.join(', ')}`);
    checks.expect(badExits.length === 0, `parts exited badly on SIGTERM: ${JSON.stringify(badExits)}`);

    const unreadableCount = plan.filter(
      (p) => !p.kind.startsWith('plain') && p.kind !== 'definite failure',
    ).length;
    checks.figure(
      'orders',
      `${plan.length} (${unreadableCount} with unreadable answers, ${plan.length - unreadableCount} plain)`,
    );
    for (const [label, trails] of Object.entries(outcome)) {
      checks.figure(
        `  ${label}`,
        Object.entries(trails)
          .map(([t, c]) => `${c}x ${t}`)
          .join('; '),
      );
    }
    for (const [label, note] of Object.entries(reasons)) checks.figure(`  why pending (${label})`, note);
    checks.figure(
      'finalised (success/failed) by the worker from an unreadable answer',
      finalisedFromGarbage.length,
    );
    checks.figure('max submissions per order (A1Topup orderid / Telgoo5 MDN)', maxSubmissions);
    checks.figure(
      'processes',
      `${alive} alive at the end, none crashed; SIGTERM exit codes ${JSON.stringify(codes)}`,
    );
    checks.figure('all settled after', `${round(seconds)} s`);
    return checks.result(
      `${unreadableCount} unreadable answers, 0 finalised from them, ${plan.length - unreadableCount} plain orders decided, no crash`,
    );
  },
};

/** The final state a worker gave the order straight from a provider answer, if it did. */
function workerFinal(order: Order): string | undefined {
  const entry = order.history.find(
    (h) => h.source === 'worker' && (h.to === 'success' || h.to === 'failed') && h.from === 'processing',
  );
  return entry?.to;
}
