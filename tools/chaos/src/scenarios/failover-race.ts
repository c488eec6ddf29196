import { type Order, providerOrderId } from '@rechargeflow/domain';
import { CALLBACK_OUTCOMES } from '@rechargeflow/ledger';
import {
  a1Order,
  Checks,
  CLIENT,
  checkBooks,
  pool,
  round,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  type SimBookEntry,
  type SimOrder,
  type SimStats,
  System,
  sleep,
  tally,
  verdictOf,
  waitFor,
} from '../harness.ts';

const PRIMARY = 'a1topup';
const BACKUP = 'a1topup_backup';
/** Fixed seeds: which orders' callbacks go before their answer replays run after run. */
const PRIMARY_SEED = '1201';
const BACKUP_SEED = '1202';
const RACE = { SIM_ANSWER_CALLBACK: 'race', SIM_ANSWER_CALLBACK_GAP_MS: '50', SIM_LATENCY_MS: '20' };

/**
 * A primary that refuses every order while its Failure callback races its answer (before it or
 * after it, drawn per order), and a backup that charges every order, also calling back around its
 * answers. Every order must end `success` at the backup, no orderid may be sent twice, and the
 * ledger must agree with both providers' books: each charge recorded exactly once, on the right
 * order and attempt, and no `success` without a charge.
 */
export const failoverRace: Scenario = {
  name: 'failover-race',
  title: 'a primary refusing everything, its Failure callbacks racing its answers; a backup that charges',
  budgetMs: 240_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const total = ctx.sized(2_000, 100);
    const system = new System({
      name: 'race',
      workers: 2,
      callbacks: true,
      providers: [PRIMARY, BACKUP],
      env: {
        // The refusals are not under test as a breaker signal (and count as a working provider).
        BREAKER_FAILURE_THRESHOLD: '1000',
        // An answer sent after its callback waits for that delivery (at most 5 s): still an answer.
        PROVIDER_TIMEOUT_MS: '8000',
      },
      apiEnv: {
        ROUTING_TABLE: JSON.stringify({
          rules: [{ operators: ['A'], providers: [PRIMARY, BACKUP] }],
          default: [PRIMARY],
        }),
      },
      // Each callback and its answer up to 50 ms apart, either way round: the callback job and the
      // worker's answer reach the ledger in both orders, and at the same moment.
      simEnv: { ...RACE, SIM_FAILURE_RATE: '1', SIM_SEED: PRIMARY_SEED },
      backupSimEnv: { ...RACE, SIM_SEED: BACKUP_SEED },
      pollerEnv: { CALLBACK_CONCURRENCY: '20' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      ctx.say(`deleted ${await system.cleanup()} keys`);
    });
    await system.start();
    ctx.say(`system up: api ${system.api}, primary ${system.sim}, backup ${system.backupSim}, 2 workers`);

    const bodies = Array.from({ length: total }, (_, i) =>
      a1Order(`fr-${i}`, 10 + (i % 7) * 10, String(9_400_000_000 + i)),
    );
    const t0 = performance.now();
    const submitted = await system.submitAll(bodies, { concurrency: 16 });
    const submitSeconds = (performance.now() - t0) / 1000;
    ctx.say(`submitted ${submitted.accepted.length}/${total} in ${round(submitSeconds)} s`);
    checks.expect(
      submitted.refused.length === 0,
      `${submitted.refused.length} submissions refused (first: ${JSON.stringify(submitted.refused[0])})`,
    );
    const budgetLeft = () => ctx.deadline - Date.now() - 30_000;
    const settled = await system.waitSettled(ctx.say, Math.max(10_000, budgetLeft()));
    const finalSeconds = (performance.now() - t0) / 1000;
    checks.expect(settled, 'orders still queued, processing or pending at the end');

    // Let every callback reach the API (the ones sent after an answer may still be on their way)
    // and be handled, so the books are compared with a ledger that has heard everything.
    await waitFor(
      'every callback delivered',
      async () => {
        const both = await Promise.all([system.simStats(), system.simStats(system.backupSim)]);
        // One callback per answer (a callback after its answer may still be in its gap), all finished.
        const done = (s: SimStats) =>
          s.callbacks.sent >= s.answerCallbacks.before + s.answerCallbacks.after &&
          s.callbacks.sent === s.callbacks.delivered + s.callbacks.failed;
        return both.every(done) ? true : undefined;
      },
      30_000,
      250,
    ).catch(() => checks.expect(false, 'callbacks still being delivered'));
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
    // A callback handled just now may still have moved an order out of a final state.
    await sleep(1_000);
    checks.expect(await system.waitSettled(ctx.say, 20_000), 'orders moved again by late callbacks');

    // The ledger and both providers' books.
    const orders = await system.readOrders(submitted.accepted);
    const [primaryBooks, backupBooks, primaryStats, backupStats] = await Promise.all([
      system.simBooks(),
      system.simBooks(system.backupSim),
      system.simStats(),
      system.simStats(system.backupSim),
    ]);
    const books = { [PRIMARY]: primaryBooks, [BACKUP]: backupBooks };
    const received = [...primaryBooks, ...backupBooks].map((e) => e.orderid);
    const found = await pool(received, 32, (poid) => system.ledger.getOrderByProviderOrderId(poid));
    const byProviderOrderId = new Map(received.map((poid, i) => [poid, found[i] ?? null]));
    const present = [...orders.values()].filter((o): o is Order => o !== null);
    const booksVerdict = checkBooks({ books, orders: present, byProviderOrderId });

    // The shared verdict (lost, not final, disagreeing, sent twice), each order against the books
    // of the provider it is with now.
    const bookOf = (provider: string) =>
      new Map((provider === BACKUP ? backupBooks : primaryBooks).map((e) => [e.orderid, e]));
    const primaryLine = bookOf(PRIMARY);
    const backupLine = bookOf(BACKUP);
    const sim = new Map<string, SimOrder | null>(
      present.map((o) => [
        o.providerOrderId,
        (o.provider === BACKUP ? backupLine : primaryLine).get(o.providerOrderId) ?? null,
      ]),
    );
    const verdict = verdictOf(orders, sim);
    const missing = verdict.missing.length;

    // What this scenario promises beyond the shared checks.
    const attempt = (o: Order, n: number) => providerOrderId({ clientId: o.clientId, orderId: o.orderId }, n);
    const notAtBackup = present.filter(
      (o) => !(o.state === 'success' && o.provider === BACKUP && o.providerOrderId === attempt(o, 2)),
    );
    const notRefusedOnce = present.filter((o) => {
      const first = primaryLine.get(attempt(o, 1));
      return first?.status !== 'failed' || first.submissions !== 1;
    });
    // Failover only after a definite refusal: the backup got nothing the primary had not refused.
    const backupWithoutRefusal = backupBooks.filter((e) => {
      const order = byProviderOrderId.get(e.orderid);
      return !order || primaryLine.get(attempt(order, 1))?.status !== 'failed';
    });
    const timing = (o: Order) => primaryLine.get(attempt(o, 1))?.answerCallback ?? 'none';
    const crashed = system.crashed();

    checks.expect(missing === 0, `${missing} accepted orders missing from the ledger`);
    checks.expect(
      verdict.notFinal === 0,
      `${verdict.notFinal} orders not final (${verdict.examples.join(', ')})`,
    );
    checks.expect(
      verdict.mismatched === 0,
      `${verdict.mismatched} orders disagree with their provider (${verdict.examples.join(', ')})`,
    );
    checks.expect(
      verdict.maxSubmissions <= 1 && primaryStats.duplicates + backupStats.duplicates === 0,
      `sent twice: ${primaryStats.duplicates} at ${PRIMARY}, ${backupStats.duplicates} at ${BACKUP}`,
    );
    for (const problem of booksVerdict.problems) checks.expect(false, `books: ${problem}`);
    checks.expect(
      notAtBackup.length === 0,
      `${notAtBackup.length} orders not success at ${BACKUP} (their primary callback went ${JSON.stringify(tally(notAtBackup.map(timing)))}; e.g. ${notAtBackup[0]?.orderId}: ${notAtBackup[0] ? describe(notAtBackup[0]) : ''})`,
    );
    checks.expect(
      notRefusedOnce.length === 0,
      `${notRefusedOnce.length} orders not received exactly once and refused by ${PRIMARY}`,
    );
    checks.expect(
      backupWithoutRefusal.length === 0,
      `${backupWithoutRefusal.length} orders sent to ${BACKUP} without a refusal by ${PRIMARY}`,
    );
    checks.expect(
      primaryStats.answerCallbacks.before > 0 && primaryStats.answerCallbacks.after > 0,
      `the race did not happen both ways: ${JSON.stringify(primaryStats.answerCallbacks)}`,
    );
    checks.expect(
      primaryStats.callbacks.failed + backupStats.callbacks.failed === 0,
      `callbacks not delivered: ${primaryStats.callbacks.failed} + ${backupStats.callbacks.failed}`,
    );
    checks.expect(crashed.length === 0, `processes died: ${crashed.join(', ')}`);

    // Figures.
    const failovers = present.filter((o) => o.provider === BACKUP).length;
    const firstRecorder = tally(present.map(refusalRecordedBy));
    const outcomes = await callbackOutcomes(system);
    const states = tally(present.map((o) => `${o.state}@${o.provider}`));
    checks.figure('orders accepted', `${submitted.accepted.length}/${total} (client ${CLIENT})`);
    checks.figure(
      'took',
      `${round(submitSeconds)} s to submit; all final after ${round(finalSeconds)} s (${round(present.length / finalSeconds)} orders/s, 2 provider calls each)`,
    );
    checks.figure('final states', JSON.stringify(states));
    checks.figure(
      `${PRIMARY} (seed ${PRIMARY_SEED})`,
      `${primaryBooks.length} orderids received, ${primaryStats.byStatus.failed ?? 0} refused, ${booksCharged(primaryBooks)} charged, ${primaryStats.duplicates} duplicates; Failure callback before the answer ${primaryStats.answerCallbacks.before}, after it ${primaryStats.answerCallbacks.after}`,
    );
    checks.figure(
      `${BACKUP} (seed ${BACKUP_SEED})`,
      `${backupBooks.length} orderids received, ${booksCharged(backupBooks)} charged, ${backupStats.duplicates} duplicates; Success callback before the answer ${backupStats.answerCallbacks.before}, after it ${backupStats.answerCallbacks.after}`,
    );
    checks.figure(
      'callbacks delivered',
      `${primaryStats.callbacks.delivered + backupStats.callbacks.delivered} (failed ${primaryStats.callbacks.failed + backupStats.callbacks.failed})`,
    );
    checks.figure('stored callbacks by outcome', JSON.stringify(outcomes));
    // Every provider event is in some order's history: each stored callback's id is named there.
    const named = new Set(
      present.flatMap((o) =>
        o.history.flatMap((h) => [...(h.note ?? '').matchAll(/\(([0-9a-f]{64})\)/g)].map((m) => m[1])),
      ),
    );
    const stored = Object.entries(outcomes)
      .filter(([outcome]) => outcome !== 'unknown_order')
      .reduce((n, [, count]) => n + count, 0);
    checks.figure("stored callbacks named in the orders' histories", `${named.size} of ${stored}`);
    checks.expect(named.size >= stored, `${stored - named.size} stored callbacks are in no order's history`);
    checks.figure('failovers (orders now at the backup)', failovers);
    checks.figure("first to record the primary's refusal", JSON.stringify(firstRecorder));
    checks.figure(
      `not success at ${BACKUP}`,
      `${notAtBackup.length}, by when the primary's callback went: ${JSON.stringify(tally(notAtBackup.map(timing)))}`,
    );
    if (notAtBackup[0]) checks.figure('  e.g.', `${notAtBackup[0].orderId}: ${describe(notAtBackup[0])}`);
    checks.figure(
      'books vs ledger',
      `${booksVerdict.received} orderids received, ${booksVerdict.charges} charges; unrecorded ${booksVerdict.unrecorded.length}, charged twice ${booksVerdict.chargedTwice.length}, success without a charge ${booksVerdict.successWithoutCharge.length}, sent twice ${booksVerdict.sentTwice.length}, unknown ${booksVerdict.unknown.length}, held for review ${booksVerdict.heldForReview}`,
    );
    checks.figure(
      'lost / not final / disagreeing / max submissions',
      `${missing} / ${verdict.notFinal} / ${verdict.mismatched} / ${verdict.maxSubmissions}`,
    );
    checks.figure('CPU seconds by part', JSON.stringify(system.cpuSeconds()));
    const disagreements = verdict.mismatched + booksVerdict.problems.length;
    return checks.result(
      `${present.length} orders, ${present.length - notAtBackup.length} success at ${BACKUP}, ${failovers} failovers, Failure callbacks ${primaryStats.answerCallbacks.before} before / ${primaryStats.answerCallbacks.after} after the answer, ${primaryStats.duplicates + backupStats.duplicates} sent twice, ${disagreements} disagreements with the books`,
    );
  },
};

function booksCharged(entries: readonly SimBookEntry[]): number {
  return entries.filter((e) => e.charged).length;
}

/** Who moved the first attempt out of `processing` first: the worker's answer or a callback. */
function refusalRecordedBy(order: Order): string {
  const claimed = order.history.findIndex((h) => h.from === 'queued' && h.to === 'processing');
  const next = order.history.slice(claimed + 1).find((h) => h.from === 'processing');
  return next ? `${next.source} (-> ${next.to})` : 'nothing';
}

/**
 * Stored callbacks by outcome, counted on the ledger's per-outcome index (`<prefix>:callbacks:<outcome>`,
 * see the Redis store's key layout): findCallbacks reads at most 1,000 of them.
 */
async function callbackOutcomes(system: System): Promise<Record<string, number>> {
  const counts = await Promise.all(
    CALLBACK_OUTCOMES.map((o) => system.redis.zcard(`${system.ledgerPrefix}:callbacks:${o}`)),
  );
  return Object.fromEntries(
    CALLBACK_OUTCOMES.map((o, i) => [o, counts[i] ?? 0]).filter(([, n]) => Number(n) > 0),
  );
}

/** An order's history in one line, provider orderids shortened. */
function describe(order: Order): string {
  return order.history
    .map((h) => `${h.from ?? '-'}>${h.to}[${h.source}] ${h.note ?? ''}`.trim())
    .join(' | ')
    .replace(/RF[0-9A-F]{24}/g, 'RF…');
}
