import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';
import { registerSystemGauges, type SystemSources } from './system-gauges.ts';

const NOW = Date.parse('2026-11-22T10:00:00.000Z');

function sources(overrides: Partial<SystemSources> = {}): SystemSources {
  return {
    queues: async () => [
      { queue: 'recharges-a1topup', jobs: { waiting: 7, active: 2, failed: 1 }, workers: 3 },
      { queue: 'callbacks', jobs: { waiting: 0, active: 0, failed: 0 }, workers: 1 },
    ],
    ordersIn: async (state) =>
      state === 'pending'
        ? { count: 12, oldestChangeAt: '2026-11-22T09:58:30.000Z' }
        : { count: 0, oldestChangeAt: null },
    balances: async () => [{ provider: 'a1topup', rupees: 1234.5 }],
    breakers: async () => [
      { provider: 'a1topup', state: 'closed' },
      { provider: 'telgoo5', state: 'open' },
    ],
    redisMemory: async () => [
      { role: 'ledger', usedBytes: 800, maxBytes: 1_000, systemBytes: 8_000 },
      { role: 'queue', usedBytes: 50, maxBytes: 0, systemBytes: 8_000 },
    ],
    now: () => NOW,
    ...overrides,
  };
}

const line = (text: string, series: string) =>
  text
    .split('\n')
    .find((l) => l.startsWith(`${series} `) || (l.startsWith(`${series}{`) && l.includes(series)));

describe('system gauges', () => {
  it('reads every source at scrape time into bounded series', async () => {
    const metrics = createMetrics('poller');
    let pending = 12;
    registerSystemGauges(metrics, {
      ...sources(),
      ordersIn: async (state) =>
        state === 'pending'
          ? { count: pending, oldestChangeAt: '2026-11-22T09:58:30.000Z' }
          : { count: 0, oldestChangeAt: null },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'rechargeflow_queue_jobs{queue="recharges-a1topup",state="waiting",part="poller"} 7',
    );
    expect(text).toContain(
      'rechargeflow_queue_jobs{queue="recharges-a1topup",state="active",part="poller"} 2',
    );
    expect(text).toContain('rechargeflow_queue_workers{queue="recharges-a1topup",part="poller"} 3');
    expect(text).toContain('rechargeflow_pending_orders{part="poller"} 12');
    expect(text).toContain('rechargeflow_pending_orders_oldest_age_seconds{part="poller"} 90');
    expect(text).toContain('rechargeflow_manual_review_orders_oldest_age_seconds{part="poller"} 0');
    expect(text).toContain('rechargeflow_provider_balance{provider="a1topup",part="poller"} 1234.5');
    expect(text).toContain(
      'rechargeflow_provider_breaker_state{provider="telgoo5",state="open",part="poller"} 1',
    );
    expect(text).toContain(
      'rechargeflow_provider_breaker_state{provider="telgoo5",state="closed",part="poller"} 0',
    );

    // The next scrape reads again.
    pending = 3;
    expect(await metrics.registry.metrics()).toContain('rechargeflow_pending_orders{part="poller"} 3');
  });

  it('reads a source once per scrape even when two families come from it', async () => {
    const metrics = createMetrics('poller');
    let reads = 0;
    registerSystemGauges(metrics, {
      ...sources(),
      queues: async () => {
        reads += 1;
        return [{ queue: 'poller', jobs: { waiting: reads }, workers: reads }];
      },
    });
    const text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('rechargeflow_queue_jobs{queue="poller",state="waiting",part="poller"} 1');
    expect(text).toContain('rechargeflow_queue_workers{queue="poller",part="poller"} 1');
  });

  it('a failing source is counted and named, and the rest of the scrape still answers', async () => {
    const metrics = createMetrics('poller');
    const seen: string[] = [];
    registerSystemGauges(
      metrics,
      {
        ...sources(),
        queues: async () => {
          throw new Error('redis down');
        },
      },
      (source, error) => seen.push(`${source}: ${(error as Error).message}`),
    );
    const text = await metrics.registry.metrics();
    expect(seen).toEqual(['queues: redis down']);
    // Families are collected side by side: the count shows from the next scrape on.
    expect(await metrics.registry.metrics()).toContain(
      'rechargeflow_metrics_collect_errors_total{source="queues",part="poller"} 1',
    );
    expect(text).not.toMatch(/^rechargeflow_queue_jobs\{/m);
    expect(text).toContain('rechargeflow_pending_orders{part="poller"} 12');
    expect(line(text, 'rechargeflow_provider_balance')).toBeDefined();
  });

  it('a failing ledger keeps the last backlog figures instead of reporting an empty backlog', async () => {
    const metrics = createMetrics('poller');
    let down = false;
    registerSystemGauges(metrics, {
      ...sources(),
      ordersIn: async (state) => {
        if (down) throw new Error('ledger down');
        return state === 'pending'
          ? { count: 12, oldestChangeAt: '2026-11-22T09:58:30.000Z' }
          : { count: 0, oldestChangeAt: null };
      },
    });
    expect(await metrics.registry.metrics()).toContain(
      'rechargeflow_pending_orders_oldest_age_seconds{part="poller"} 90',
    );
    down = true;
    const text = await metrics.registry.metrics();
    expect(text).toContain('rechargeflow_pending_orders{part="poller"} 12');
    expect(text).toContain('rechargeflow_pending_orders_oldest_age_seconds{part="poller"} 90');
    expect(await metrics.registry.metrics()).toContain(
      // One per backlog family (pending, manual review) for the failed scrape, seen from the next.
      'rechargeflow_metrics_collect_errors_total{source="orders",part="poller"} 2',
    );
  });

  it('exports used, max and host memory per Redis role, and keeps the last figures when a read fails', async () => {
    const metrics = createMetrics('poller');
    let reads = 0;
    registerSystemGauges(metrics, {
      ...sources(),
      redisMemory: async () => {
        reads += 1;
        if (reads > 1) throw new Error('INFO refused');
        return [{ role: 'ledger+queue', usedBytes: 123_456, maxBytes: 0, systemBytes: 8_000_000 }];
      },
    });
    const text = await metrics.registry.metrics();
    // Three families, one read.
    expect(reads).toBe(1);
    expect(text).toContain('rechargeflow_redis_memory_used_bytes{role="ledger+queue",part="poller"} 123456');
    expect(text).toContain('rechargeflow_redis_memory_max_bytes{role="ledger+queue",part="poller"} 0');
    expect(text).toContain(
      'rechargeflow_redis_memory_system_bytes{role="ledger+queue",part="poller"} 8000000',
    );
    const failed = await metrics.registry.metrics();
    expect(failed).toContain(
      'rechargeflow_redis_memory_used_bytes{role="ledger+queue",part="poller"} 123456',
    );
    expect(await metrics.registry.metrics()).toContain(
      'rechargeflow_metrics_collect_errors_total{source="redis_memory",part="poller"} 1',
    );
  });

  it('passes promtool check metrics, with every process family as well', async (context) => {
    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (promtool.error) {
      console.log('promtool check metrics: SKIPPED (promtool not installed; apt-get install prometheus)');
      context.skip();
    }
    const metrics = createMetrics('poller');
    registerSystemGauges(metrics, sources());
    // Give every labelled family one series so promtool sees each of them.
    metrics.ordersTotal.inc({ provider: 'a1topup', operator: 'AT', status: 'success' });
    metrics.providerRequestDuration.observe(
      { provider: 'a1topup', endpoint: 'recharge', outcome: 'success' },
      0.1,
    );
    metrics.httpRequestsTotal.inc({ route: '/v1/recharges', method: 'POST', status: '202' });
    metrics.callbacksTotal.inc({ provider: 'a1topup', outcome: 'applied' });
    metrics.reversalsTotal.inc({ provider: 'a1topup' });
    metrics.reversedAmountTotal.inc({ provider: 'a1topup' }, 10);
    metrics.jobsProcessedTotal.inc({ queue: 'recharges-a1topup', outcome: 'completed' });
    metrics.jobDuration.observe({ queue: 'recharges-a1topup' }, 0.2);
    metrics.jobsStalledTotal.inc({ queue: 'recharges-a1topup' });
    metrics.batchRowsTotal.inc({ outcome: 'accepted' });
    metrics.webhookDeliveriesTotal.inc({ outcome: 'delivered' });
    metrics.webhookAttemptDuration.observe({ outcome: 'delivered' }, 0.05);
    const text = await metrics.registry.metrics();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
    // Every family has HELP text.
    const families = new Set(text.match(/^# TYPE (\S+)/gm)?.map((l) => l.slice('# TYPE '.length)));
    for (const family of families) expect(text).toMatch(new RegExp(`^# HELP ${family} \\S`, 'm'));
    expect(families.size).toBeGreaterThan(20);
  });
});
