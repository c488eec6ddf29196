import {
  a1Order,
  Checks,
  CLIENT,
  freePort,
  RedisServer,
  round,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  System,
  sleep,
  verdictOf,
} from '../harness.ts';

/**
 * The whole system on its own redis-server (AOF, fsync always, noeviction). While orders flow,
 * Redis is shut down (SIGTERM: it writes out the AOF and exits), stays down a few seconds, and is
 * started again on the same port and directory (the AOF is reloaded). No part of the system is
 * restarted: API, workers and poller must reconnect and carry on, losing nothing and sending
 * nothing twice. Submitters repeat a request that got no 2xx answer (a repeat is the same order).
 */
export const redisRestart: Scenario = {
  name: 'redis-restart',
  title: 'Redis shut down and restarted (AOF reload) mid-run; no part restarted',
  budgetMs: 180_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const total = ctx.sized(3_000, 300);
    const downMs = 3_000;
    const server = new RedisServer(await freePort(), 'always');
    await server.start();
    ctx.onCleanup(async () => {
      await server.stop();
      server.remove();
    });
    const system = new System({
      name: 'redis',
      redisUrl: server.url,
      workers: 2,
      // 150 ms answers: calls are in flight (their results not yet written) when Redis goes away.
      simEnv: { SIM_LATENCY_MS: '150' },
      workerEnv: { A1TOPUP_CONCURRENCY: '20' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      await system.cleanup();
    });
    await system.start();
    const initialParts = system.parts.length;
    ctx.say(`system up on a private redis-server ${server.url} (AOF, appendfsync always), dir ${server.dir}`);

    const bodies = Array.from({ length: total }, (_, i) =>
      a1Order(`rr-${i}`, 10 + (i % 5) * 10, String(9_600_000_000 + i)),
    );
    const t0 = performance.now();
    // Paced so that orders are still arriving when Redis goes away and after it is back.
    const submitting = system.submitAll(bodies, {
      concurrency: 8,
      retry: true,
      retryUntil: Date.now() + 90_000,
      paceMs: Math.max(1, Math.round((8 * 15_000) / total)),
    });

    // Restart once about a third of the orders are in.
    // The client's list in the ledger: every order of CLIENT, by creation.
    const createdKey = `${system.ledgerPrefix}:client:${encodeURIComponent(CLIENT)}:orders`;
    while ((await system.redis.zcard(createdKey)) < total / 3) await sleep(100);
    const before = await system.counts();
    const membersBefore = await system.redis.zrange(createdKey, '0', '-1');
    const createdBefore = membersBefore.length;
    const keysBefore = await countKeys(system, `${system.ledgerPrefix}:`);
    ctx.say(
      `shutting Redis down (SIGTERM) with ${createdBefore} orders in the ledger: ${JSON.stringify(before)}`,
    );
    const tDown = performance.now();
    const code = await server.stop('SIGTERM');
    checks.expect(code === 0, `redis-server exited with ${code} on SIGTERM`);
    await sleep(downMs);
    await server.start();
    const tUp = performance.now();
    const membersAfter = new Set(await system.redis.zrange(createdKey, '0', '-1'));
    const createdAfter = membersAfter.size;
    const vanished = membersBefore.filter((m) => !membersAfter.has(m)).length;
    const keysAfter = await countKeys(system, `${system.ledgerPrefix}:`);
    ctx.say(
      `Redis back after ${round((tUp - tDown) / 1000)} s: ${createdAfter} orders in the reloaded ledger, ${keysAfter} ledger keys (${keysBefore} before)`,
    );
    checks.expect(keysAfter >= keysBefore, `the reloaded ledger has ${keysAfter} keys, ${keysBefore} before`);
    checks.expect(vanished === 0, `${vanished} orders in the ledger before the shutdown are gone after it`);
    const successAtUp = (await system.counts()).success;
    let resumedAfterMs: number | undefined;
    while (performance.now() - tUp < 60_000) {
      if ((await system.counts()).success > successAtUp) {
        resumedAfterMs = performance.now() - tUp;
        break;
      }
      await sleep(100);
    }
    checks.expect(resumedAfterMs !== undefined, 'no order succeeded within 60 s of Redis coming back');
    ctx.say(`processing resumed ${round((resumedAfterMs ?? 0) / 1000)} s after Redis came back`);

    const submitted = await submitting;
    const submitSeconds = (performance.now() - t0) / 1000;
    checks.expect(
      submitted.refused.length === 0,
      `${submitted.refused.length} orders never accepted (first: ${JSON.stringify(submitted.refused[0])})`,
    );
    const settled = await system.waitSettled(ctx.say, Math.max(10_000, ctx.deadline - Date.now() - 20_000));
    const allSeconds = (performance.now() - t0) / 1000;
    checks.expect(settled, 'orders still in progress at the end');

    const orders = await system.readOrders(submitted.accepted);
    const sim = await system.simOrders([...orders.values()].flatMap((o) => (o ? [o.providerOrderId] : [])));
    const stats = await system.simStats();
    const verdict = verdictOf(orders, sim);
    const { notFinal, mismatched, maxSubmissions, neverReceivedFailed, success, failed } = verdict;
    const missing = verdict.missing.length;
    for (const orderId of verdict.missing) ctx.say(`missing from the ledger: ${orderId}`);
    const viaPending = [...orders.values()].filter((o) => o?.history.some((h) => h.to === 'pending')).length;
    const crashed = system.crashed();
    checks.expect(missing === 0, `${missing} accepted orders missing from the ledger`);
    checks.expect(notFinal === 0, `${notFinal} orders not final`);
    checks.expect(mismatched === 0, `${mismatched} orders disagree with the provider`);
    checks.expect(stats.duplicates === 0 && maxSubmissions <= 1, `${stats.duplicates} repeated submissions`);
    checks.expect(crashed.length === 0, `processes died: ${crashed.join(', ')}`);
    checks.expect(
      system.parts.length === initialParts && system.alive().length === initialParts,
      'a part was restarted or is gone',
    );

    checks.figure('orders accepted', `${submitted.accepted.length}/${total}`);
    checks.figure('requests repeated while Redis was away', submitted.repeats);
    checks.figure('Redis down (SIGTERM to back up)', `${round((tUp - tDown) / 1000)} s`);
    checks.figure(
      'ledger before shutdown / after AOF reload',
      `${createdBefore} / ${createdAfter} orders (${vanished} of the first gone), ${keysBefore} / ${keysAfter} keys`,
    );
    checks.figure(
      'processing resumed after Redis was back',
      `${round((resumedAfterMs ?? Number.NaN) / 1000)} s`,
    );
    checks.figure(
      'rate',
      `${round(submitted.accepted.length / allSeconds)} orders/s end to end (submitting took ${round(submitSeconds)} s)`,
    );
    checks.figure('final states', `success ${success}, failed ${failed}`);
    checks.figure('went through pending', viaPending);
    checks.figure('failed, provably never received by the provider', neverReceivedFailed);
    checks.figure(
      'simulator',
      `${stats.orders} orderids, ${stats.submissions} submissions, ${stats.duplicates} duplicates`,
    );
    checks.figure('max submissions per order', maxSubmissions);
    checks.figure('parts restarted / crashed', `0 / ${crashed.length} of ${initialParts}`);
    return checks.result(
      `${submitted.accepted.length} orders, Redis restarted once, ${missing} lost, ${stats.duplicates} double, resumed in ${round((resumedAfterMs ?? 0) / 1000)} s`,
    );
  },
};

async function countKeys(system: System, prefix: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, found] = await system.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    count += found.length;
  } while (cursor !== '0');
  return count;
}
