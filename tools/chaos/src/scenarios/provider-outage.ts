import {
  a1Order,
  Checks,
  round,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  System,
  sleep,
  tally,
  verdictOf,
} from '../harness.ts';

const OUTAGE_MS = 12_000;

/**
 * Workers and poller reach the simulated provider through a TCP proxy. While orders arrive, the
 * proxy goes down for 12 s: its listening socket is closed (every new connection is refused —
 * provably unsent) and the connections it carried are cut (calls in flight — ambiguous). Then it
 * comes back. Only the provably unsent calls may be retried (same orderid); the cut ones must go
 * pending and be settled by the status API. The shared circuit breaker must open during the
 * outage and close after it (GET /v1/providers).
 */
export const providerOutage: Scenario = outageScenario(0);

/**
 * The same outage with recharges reusing kept-alive connections as A1Topup does by default
 * (A1TOPUP_RECHARGE_KEEP_ALIVE_MS 1000): the cut also kills idle connections a recharge could be
 * written on next. Money must stay as safe. (The scenario above sets 0: a fresh connection per
 * recharge, Telgoo5's default.)
 */
export const providerOutageKeepAlive: Scenario = outageScenario(1_000);

function outageScenario(keepAliveMs: number): Scenario {
  const reuse = keepAliveMs > 0;
  return {
    name: reuse ? 'provider-outage-keepalive' : 'provider-outage',
    title: `provider unreachable for 12 s (connections refused, calls in flight cut), then back${reuse ? `; recharges reuse connections (keep-alive ${keepAliveMs} ms)` : ''}`,
    budgetMs: 180_000,
    async run(ctx: ScenarioContext): Promise<ScenarioResult> {
      const checks = new Checks();
      const total = ctx.sized(2_000, 300);
      const system = new System({
        name: reuse ? 'outage-ka' : 'outage',
        workers: 2,
        proxy: true,
        env: { BREAKER_FAILURE_THRESHOLD: '5', BREAKER_OPEN_MS: '2000' },
        // 300 ms answers: about 20 calls are in flight at any moment, so the cut catches some.
        simEnv: { SIM_LATENCY_MS: '300' },
        workerEnv: { A1TOPUP_CONCURRENCY: '20', A1TOPUP_RECHARGE_KEEP_ALIVE_MS: String(keepAliveMs) },
      });
      ctx.onCleanup(async () => {
        await system.stop();
        ctx.say(`deleted ${await system.cleanup()} keys`);
      });
      await system.start();
      const proxy = system.proxy!;
      ctx.say(`system up; providers reached through a proxy on ${proxy.url} (simulator ${system.sim})`);

      // The breaker as the API reports it, sampled every 250 ms.
      const seen: { at: number; state: string; health: string }[] = [];
      let sampling = true;
      const t0 = performance.now();
      const sampler = (async () => {
        while (sampling) {
          try {
            const a1 = (await system.providers()).find((p) => p.name === 'a1topup');
            if (a1 && seen.at(-1)?.state !== a1.breaker.state)
              seen.push({ at: performance.now() - t0, state: a1.breaker.state, health: a1.health });
          } catch {
            // the API is busy; next sample
          }
          await sleep(250);
        }
      })();

      const bodies = Array.from({ length: total }, (_, i) =>
        a1Order(`po-${i}`, 10 + (i % 5) * 10, String(9_500_000_000 + i)),
      );
      // Orders arrive over about 25 s: before, during and after the outage.
      const submitting = system.submitAll(bodies, {
        concurrency: 4,
        paceMs: Math.max(1, Math.round((4 * 25_000) / total)),
      });
      await sleep(6_000);
      const downAt = performance.now() - t0;
      await proxy.down();
      ctx.say(`provider DOWN at ${round(downAt / 1000)} s: ${proxy.cut} connections cut, new ones refused`);
      await sleep(OUTAGE_MS);
      await proxy.up();
      const upAt = performance.now() - t0;
      ctx.say(`provider UP at ${round(upAt / 1000)} s`);
      const submitted = await submitting;
      checks.expect(submitted.refused.length === 0, `${submitted.refused.length} submissions refused`);
      const settled = await system.waitSettled(ctx.say, Math.max(10_000, ctx.deadline - Date.now() - 25_000));
      checks.expect(settled, 'orders still in progress at the end');
      // Let the breaker's state after the outage be sampled, then stop sampling.
      await sleep(1_000);
      sampling = false;
      await sampler;
      const allSeconds = (performance.now() - t0) / 1000;

      const orders = await system.readOrders(submitted.accepted);
      const sim = await system.simOrders([...orders.values()].flatMap((o) => (o ? [o.providerOrderId] : [])));
      const stats = await system.simStats();
      const verdict = verdictOf(orders, sim);
      const { notFinal, mismatched, maxSubmissions, neverReceivedFailed, success, failed } = verdict;
      const missing = verdict.missing.length;
      let retriedUnsent = 0;
      let retriedUnsentSucceeded = 0;
      let cutToPending = 0;
      let pendingNeverReceived = 0;
      let pendingSettledByStatus = 0;
      const failedWhy: string[] = [];
      for (const order of orders.values()) {
        if (!order) continue;
        const retried = order.history.some((h) => /^not sent: .*will retry/.test(h.note ?? ''));
        const pending = order.history.some((h) => h.to === 'pending');
        if (retried) retriedUnsent += 1;
        if (retried && order.state === 'success') retriedUnsentSucceeded += 1;
        if (pending) cutToPending += 1;
        // Pending, yet the provider never saw the request: cut before the proxy passed it on (or,
        // with reuse, written on a connection already dead). Either way nothing was sent twice.
        if (pending && !sim.get(order.providerOrderId)) pendingNeverReceived += 1;
        if (pending && order.history.at(-1)?.source === 'poller') pendingSettledByStatus += 1;
        if (order.state === 'failed')
          failedWhy.push(
            `${order.history.at(-1)?.source}: ${(order.history.at(-1)?.note ?? '').replace(/RF[0-9A-F]{24}/g, 'RF…')}`,
          );
      }
      // Jobs that found the breaker open waited (re-queued with back-off) before anything was sent.
      const deferred = system.parts
        .flatMap((p) => p.lines)
        .filter((l) => l.includes('no provider can take the order now')).length;
      const states = seen.map((s) => s.state);
      const opened = states.includes('open');
      const closedAfter = states.lastIndexOf('closed') > states.indexOf('open') && states.at(-1) === 'closed';

      checks.expect(missing === 0, `${missing} accepted orders missing from the ledger`);
      checks.expect(notFinal === 0, `${notFinal} orders not final`);
      checks.expect(mismatched === 0, `${mismatched} orders disagree with the provider`);
      checks.expect(
        stats.duplicates === 0 && maxSubmissions <= 1,
        `${stats.duplicates} repeated submissions`,
      );
      checks.expect(retriedUnsent > 0, 'no order was retried after a refused connection');
      checks.expect(opened, 'the circuit breaker never opened');
      checks.expect(closedAfter, `the breaker did not close again (states seen: ${states.join(' > ')})`);
      const crashed = system.crashed();
      checks.expect(crashed.length === 0, `processes died: ${crashed.join(', ')}`);
      // How recharges used connections (the simulator counts the connections that carried one).
      const recharges = stats.requests.recharge ?? 0;
      if (reuse) {
        checks.expect(
          stats.rechargeConnections < recharges / 4,
          `${stats.rechargeConnections} connections carried ${recharges} recharges: connections were not reused`,
        );
      } else {
        checks.expect(
          stats.rechargeConnections === recharges,
          `${stats.rechargeConnections} connections carried ${recharges} recharges: a connection carried two`,
        );
      }

      checks.figure('orders accepted', `${submitted.accepted.length}/${total}`);
      checks.figure(
        'outage',
        `${round(downAt / 1000)} s to ${round(upAt / 1000)} s; ${proxy.cut} connections cut`,
      );
      checks.figure(
        'retried after connection refused (provably unsent)',
        `${retriedUnsent} orders, ${retriedUnsentSucceeded} then succeeded`,
      );
      checks.figure('jobs deferred while the breaker was open (nothing sent)', deferred);
      checks.figure(
        'cut in flight -> pending',
        `${cutToPending} orders, ${pendingSettledByStatus} settled by a status check; ${pendingNeverReceived} of them never reached the provider`,
      );
      checks.figure('failed, provably never received by the provider', neverReceivedFailed);
      if (failedWhy.length > 0) checks.figure('why failed', JSON.stringify(tally(failedWhy)));
      checks.figure(
        'breaker (GET /v1/providers)',
        seen.map((s) => `${s.state}/${s.health}@${round(s.at / 1000)}s`).join(' > '),
      );
      checks.figure('final states', `success ${success}, failed ${failed}`);
      checks.figure(
        'simulator',
        `${stats.orders} orderids, ${stats.submissions} submissions, ${stats.duplicates} duplicates, ${stats.requests.status ?? 0} status checks`,
      );
      checks.figure('max submissions per order', maxSubmissions);
      checks.figure(
        'connections that carried recharges (simulator)',
        `${stats.rechargeConnections} for ${recharges} recharge calls (${stats.connections} connections in all)`,
      );
      checks.figure('all final after', `${round(allSeconds)} s`);
      return checks.result(
        `${submitted.accepted.length} orders${reuse ? ` (${stats.rechargeConnections} connections for ${recharges} recharges)` : ''}, ${retriedUnsent} retried unsent, ${cutToPending} cut to pending, max ${maxSubmissions} submission, breaker ${states.join('>')}`,
      );
    },
  };
}
