import { Counter, Gauge } from 'prom-client';
import type { Metrics } from './metrics.ts';

/** Outcomes of one retention run (the `ledger.retention` job). */
export const RETENTION_OUTCOMES = ['ok', 'failed', 'skipped'] as const;
export type RetentionOutcome = (typeof RETENTION_OUTCOMES)[number];

/**
 * The ledger's retention (the shape the poller's `ledger.retention` job calls): orders archived and
 * removed from the Redis ledger, runs by outcome, and when a run last succeeded. Registered by the
 * poller only, on its registry; no label but the outcome.
 */
export function retentionMetrics(metrics: Metrics) {
  const registers = [metrics.registry];
  const archived = new Counter({
    name: 'rechargeflow_ledger_archived_orders_total',
    help: 'Final orders written to the archive and removed from the Redis ledger by retention (LEDGER_RETENTION).',
    registers,
  });
  const runs = new Counter({
    name: 'rechargeflow_ledger_retention_runs_total',
    help: 'Retention runs by outcome: ok, failed (an error; nothing is removed before its archive file is durable), skipped (another run held the archive lock).',
    labelNames: ['outcome'],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'rechargeflow_ledger_retention_last_success_timestamp_seconds',
    help: 'Unix time at which the latest successful retention run ended (0: none since this poller started).',
    registers,
  });
  for (const outcome of RETENTION_OUTCOMES) runs.inc({ outcome }, 0);
  return {
    archived: (count: number) => archived.inc(count),
    run: (outcome: RetentionOutcome) => {
      runs.inc({ outcome });
      if (outcome === 'ok') lastSuccess.set(Date.now() / 1000);
    },
  };
}
