import type { Order } from '@rechargeflow/domain';
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
  verdictOf,
} from '../harness.ts';

/**
 * 10,000 orders through the real API into 4 worker processes, one of which is SIGKILLed at random
 * every 2 s (and started again) while the simulator answers after a short latency, so calls are in
 * flight when a worker dies. Meanwhile a 2,000-row CSV batch is imported and released with a
 * backlog of 100 (BATCH_RELEASE_BACKLOG), so its import and release jobs die with the workers too.
 * Every accepted order (the batch's included) must be in the ledger and final, and the simulator
 * must have received each provider orderid at most once.
 */
export const killWorkers: Scenario = {
  name: 'kill-workers',
  title: '4 workers, one SIGKILLed every 2 s while 10,000 orders go through',
  budgetMs: 330_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const total = ctx.sized(10_000, 200);
    const system = new System({
      name: 'kill',
      workers: 4,
      // 40 ms per answer: with 4 x 10 calls open, a kill nearly always cuts calls in flight.
      simEnv: { SIM_LATENCY_MS: '40' },
      workerEnv: { A1TOPUP_CONCURRENCY: '10', WORKER_LOCK_MS: '4000', BATCH_RELEASE_BACKLOG: '100' },
      pollerEnv: { STATUS_CHECK_CONCURRENCY: '20' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      ctx.say(`deleted ${await system.cleanup()} keys`);
    });
    await system.start();
    ctx.say(`system up: api ${system.api}, 4 workers, prefix ${system.prefix}`);

    // The killer: every 2 s one worker, at random, SIGKILL; a new process takes its place.
    let killing = true;
    let kills = 0;
    const killer = (async () => {
      while (killing) {
        await sleep(2_000);
        if (!killing) break;
        const index = Math.floor(Math.random() * 4);
        await system.killWorker(index);
        kills += 1;
        system.startWorker(index);
      }
    })();

    // The batch: its rows' orders wait in the ledger past the first chunk and are released as the
    // queue drains, by whichever worker holds the release job when the others are killed.
    const batchRows = ctx.sized(2_000, 100);
    const batchIds = Array.from({ length: batchRows }, (_, i) => `kwb-${i}`);
    const csv = `orderId,operator,circle,number,amount,value1,value2\n${batchIds
      .map((id, i) => `${id},A,5,${9_600_000_000 + i},${10 + (i % 5) * 10},,`)
      .join('\n')}\n`;
    const upload = await fetch(`${system.api}/v1/batches`, {
      method: 'POST',
      headers: { ...system.headers, 'content-type': 'text/csv' },
      body: csv,
    });
    const batch = (await upload.json()) as { batchId: string };
    checks.expect(upload.status === 202, `batch upload answered ${upload.status}`);

    const bodies = Array.from({ length: total }, (_, i) =>
      a1Order(`kw-${i}`, 10 + (i % 7) * 10, String(9_700_000_000 + i)),
    );
    const t0 = performance.now();
    const submitted = await system.submitAll(bodies, { concurrency: 24 });
    const submitSeconds = (performance.now() - t0) / 1000;
    ctx.say(
      `submitted ${submitted.accepted.length}/${total} in ${round(submitSeconds)} s; kills so far ${kills}`,
    );
    checks.expect(
      submitted.refused.length === 0,
      `${submitted.refused.length} submissions refused (first: ${JSON.stringify(submitted.refused[0])})`,
    );

    // Keep killing until the workers are through the queue, then let the poller settle the rest.
    const budgetLeft = () => ctx.deadline - Date.now() - 20_000;
    const drained = await system.waitSettled(ctx.say, Math.max(10_000, budgetLeft() - 20_000), [
      'queued',
      'processing',
    ]);
    killing = false;
    await killer;
    const processedSeconds = (performance.now() - t0) / 1000;
    ctx.say(
      `workers through the queue after ${round(processedSeconds)} s (${kills} kills); settling pending`,
    );
    checks.expect(drained, 'orders still queued or processing when the budget ran out');
    await Promise.all(
      system.workers.map((w) => w?.waitForLine(/recharge worker running/, 60_000).catch(() => undefined)),
    );
    const settled = await system.waitSettled(ctx.say, Math.max(10_000, budgetLeft()));
    const allSeconds = (performance.now() - t0) / 1000;
    checks.expect(settled, 'orders still in progress (queued/processing/pending) at the end');

    const batchView = await system.getJson<{ state: string; rows: { accepted: number } }>(
      `${system.api}/v1/batches/${batch.batchId}`,
      system.headers,
    );
    checks.expect(
      batchView.state === 'done' && batchView.rows.accepted === batchRows,
      `the batch is ${batchView.state} with ${batchView.rows.accepted}/${batchRows} rows accepted`,
    );

    // Every accepted order: in the ledger, final, consistent with what the provider did.
    const orders = await system.readOrders([...submitted.accepted, ...batchIds]);
    const sim = await system.simOrders([...orders.values()].flatMap((o) => (o ? [o.providerOrderId] : [])));
    const stats = await system.simStats();
    const verdict = verdictOf(orders, sim);
    const { notFinal, mismatched, maxSubmissions, neverReceivedFailed, success, failed } = verdict;
    const missing = verdict.missing.length;
    const examples = verdict.examples;
    const example = verdict.firstNeverReceived
      ? `${verdict.firstNeverReceived.orderId}: ${describe(verdict.firstNeverReceived.order)}`
      : '';
    let viaPending = 0;
    let settledByPoller = 0;
    for (const order of orders.values()) {
      if (!order) continue;
      if (order.history.some((h) => h.to === 'pending')) viaPending += 1;
      if (order.state === 'success' && order.history.at(-1)?.source === 'poller') settledByPoller += 1;
    }
    checks.expect(missing === 0, `${missing} accepted orders missing from the ledger`);
    checks.expect(notFinal === 0, `${notFinal} orders not final (${examples.join(', ')})`);
    checks.expect(
      mismatched === 0,
      `${mismatched} orders disagree with the provider (${examples.join(', ')})`,
    );
    checks.expect(maxSubmissions <= 1 && stats.duplicates === 0, `submitted twice: ${stats.duplicates}`);
    checks.expect(kills >= 3, `only ${kills} kills happened`);
    const crashed = system.crashed();
    checks.expect(crashed.length === 0, `processes died unexpectedly: ${crashed.join(', ')}`);

    // Also through the API, for a sample: what a shop would see.
    const sample = submitted.accepted.slice(0, 20);
    const viaApi = await pool(sample, 5, async (id) => {
      const res = await fetch(`${system.api}/v1/recharges/${id}`, { headers: system.headers });
      return ((await res.json()) as { status: string }).status;
    });
    checks.expect(
      viaApi.every((s, i) => s === orders.get(sample[i] as string)?.state),
      'API and ledger disagree on a sampled order',
    );

    checks.figure(
      'orders accepted',
      `${submitted.accepted.length}/${total} (client ${CLIENT}) + a ${batchRows}-row batch (${batchView.state})`,
    );
    checks.figure('ingest rate (API)', `${round(submitted.accepted.length / submitSeconds)} orders/s`);
    checks.figure(
      'end-to-end rate',
      `${round(submitted.accepted.length / processedSeconds)} orders/s through the workers; all final after ${round(allSeconds)} s`,
    );
    checks.figure('worker kills (SIGKILL)', kills);
    checks.figure('final states', `success ${success}, failed ${failed}`);
    checks.figure(
      'went through pending',
      `${viaPending} (settled to success by the poller: ${settledByPoller})`,
    );
    checks.figure('failed, provably never received by the provider', neverReceivedFailed);
    if (example) checks.figure('  e.g.', example);
    checks.figure(
      'simulator',
      `${stats.orders} orderids, ${stats.submissions} submissions, ${stats.duplicates} duplicates, ${stats.requests.status ?? 0} status checks`,
    );
    checks.figure('max submissions per order', maxSubmissions);
    checks.figure('CPU seconds by part', JSON.stringify(system.cpuSeconds()));
    checks.figure('lost / not final / disagreeing', `${missing} / ${notFinal} / ${mismatched}`);
    return checks.result(
      `${submitted.accepted.length} orders + ${batchRows} batch rows, ${kills} kills, ${missing} lost, ${notFinal} not final, max ${maxSubmissions} submission per order (${stats.duplicates} duplicates), ${viaPending} via pending`,
    );
  },
};

/** An order's history in one line, provider orderids shortened. */
function describe(order: Order): string {
  return order.history
    .map((h) => `${h.to}[${h.source}] ${h.note ?? ''}`.trim())
    .join(' | ')
    .replace(/RF[0-9A-F]{24}/g, 'RF…');
}
