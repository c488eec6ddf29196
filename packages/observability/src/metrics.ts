import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per process with the families every part shares. Labels are bounded sets
 * (provider, operator code, state, outcome): never an order id or a phone number.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly ordersTotal: Counter<'provider' | 'operator' | 'status'>;
  readonly providerRequestDuration: Histogram<'provider' | 'endpoint' | 'outcome'>;
  readonly httpRequestsTotal: Counter<'route' | 'method' | 'status'>;
  readonly callbacksTotal: Counter<'provider' | 'outcome'>;
  readonly reversalsTotal: Counter<'provider'>;
  readonly reversedAmountTotal: Counter<'provider'>;
  readonly jobsProcessedTotal: Counter<'queue' | 'outcome'>;
  readonly jobDuration: Histogram<'queue'>;
  readonly jobsStalledTotal: Counter<'queue'>;
  readonly batchRowsTotal: Counter<'outcome'>;
  readonly batchRowsReleasedTotal: Counter;
  readonly webhookDeliveriesTotal: Counter<'outcome'>;
  readonly webhookAttemptDuration: Histogram<'outcome'>;
  readonly webhookOutboxOldestAge: Gauge;
}

export function createMetrics(part: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ part });
  collectDefaultMetrics({ register: registry, prefix: 'rechargeflow_' });
  // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for counters
  // (promtool check metrics refuses them); the same numbers stay available by type, in
  // rechargeflow_nodejs_active_{handles,requests,resources}.
  for (const name of ['handles', 'requests', 'resources']) {
    registry.removeSingleMetric(`rechargeflow_nodejs_active_${name}_total`);
  }
  return {
    registry,
    ordersTotal: new Counter({
      name: 'rechargeflow_orders_total',
      help: 'Order transitions into each state, by provider and operator code.',
      labelNames: ['provider', 'operator', 'status'],
      registers: [registry],
    }),
    providerRequestDuration: new Histogram({
      name: 'rechargeflow_provider_request_duration_seconds',
      help: 'Provider HTTP calls by endpoint and outcome class (success, failed, pending, not_sent, ambiguous).',
      labelNames: ['provider', 'endpoint', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    httpRequestsTotal: new Counter({
      name: 'rechargeflow_http_requests_total',
      help: 'HTTP requests answered by the ingest API, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    callbacksTotal: new Counter({
      name: 'rechargeflow_callbacks_total',
      help: 'Provider callbacks handled, by outcome (applied, no_change, unknown_order, reversal_not_confirmed, ignored, duplicate, forged).',
      labelNames: ['provider', 'outcome'],
      registers: [registry],
    }),
    reversalsTotal: new Counter({
      name: 'rechargeflow_reversals_total',
      help: 'Dispute reversals applied to successful orders.',
      labelNames: ['provider'],
      registers: [registry],
    }),
    reversedAmountTotal: new Counter({
      name: 'rechargeflow_reversed_amount_rupees_total',
      help: 'Amount of the dispute reversals applied, in rupees.',
      labelNames: ['provider'],
      registers: [registry],
    }),
    jobsProcessedTotal: new Counter({
      name: 'rechargeflow_jobs_processed_total',
      help: 'Job runs finished by this process, by queue and outcome (completed, retry, failed).',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'rechargeflow_job_duration_seconds',
      help: 'Time one run of a job took in this process, by queue.',
      labelNames: ['queue'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [registry],
    }),
    jobsStalledTotal: new Counter({
      name: 'rechargeflow_jobs_stalled_total',
      help: 'Jobs found stalled (their worker stopped renewing the lock) by this process, by queue.',
      labelNames: ['queue'],
      registers: [registry],
    }),
    batchRowsTotal: new Counter({
      name: 'rechargeflow_batch_rows_total',
      help: 'CSV batch rows imported and committed, by outcome (accepted, rejected).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    batchRowsReleasedTotal: new Counter({
      name: 'rechargeflow_batch_rows_released_total',
      help: 'CSV batch rows whose orders were handed to the queue (by the import, or later by the batch release as the queue had room).',
      registers: [registry],
    }),
    // Webhooks: outcome is the only label (never an endpoint, URL or client: unbounded, and a URL
    // may carry a client's token).
    webhookDeliveriesTotal: new Counter({
      name: 'rechargeflow_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered (2xx), retry (failed, tried again on the back-off), failed (failed after WEBHOOK_RETRY_FOR: given up), dropped (not sent: its endpoint was deleted); job_failed counts delivery jobs that ended failed (stalled twice, or the ledger failing on every run), whose delivery the poller queues again.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookAttemptDuration: new Histogram({
      name: 'rechargeflow_webhook_attempt_duration_seconds',
      help: 'Time one webhook POST took, connect to the end of the (bounded) answer, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    webhookOutboxOldestAge: new Gauge({
      name: 'rechargeflow_webhook_outbox_oldest_age_seconds',
      help: "Age of the oldest webhook outbox entry at this worker's latest dispatcher round (0: the outbox was empty).",
      registers: [registry],
    }),
  };
}

/**
 * Order events (the shape @rechargeflow/orders calls) recorded as metrics: only bounded label
 * values (provider, operator code, state, outcome class).
 */
export function metricsEvents(metrics: Metrics) {
  return {
    transitioned: (order: { provider: string; request: { operator: string }; state: string }) =>
      metrics.ordersTotal.inc({
        provider: order.provider,
        operator: order.request.operator,
        status: order.state,
      }),
    providerCall: (provider: string, endpoint: string, outcome: string, seconds: number) =>
      metrics.providerRequestDuration.observe({ provider, endpoint, outcome }, seconds),
    callback: (provider: string, outcome: string) => metrics.callbacksTotal.inc({ provider, outcome }),
    reversal: (provider: string, amountPaise: number) => {
      metrics.reversalsTotal.inc({ provider });
      metrics.reversedAmountTotal.inc({ provider }, amountPaise / 100);
    },
  };
}

/** Job runs and stalled jobs (the shape @rechargeflow/queue's consumer calls) as metrics. */
export function jobMetrics(metrics: Metrics) {
  return {
    ran: (queue: string, outcome: string, seconds: number) => {
      metrics.jobsProcessedTotal.inc({ queue, outcome });
      metrics.jobDuration.observe({ queue }, seconds);
    },
    stalled: (queue: string) => metrics.jobsStalledTotal.inc({ queue }),
  };
}

/** Webhook attempts and the outbox's age (the shape @rechargeflow/webhooks calls) as metrics. */
export function webhookMetrics(metrics: Metrics) {
  // The outcomes the alert counts start at 0, so their first increase shows.
  for (const outcome of ['failed', 'job_failed']) metrics.webhookDeliveriesTotal.inc({ outcome }, 0);
  return {
    attempt: (outcome: 'delivered' | 'retry' | 'failed' | 'dropped', seconds: number) => {
      metrics.webhookDeliveriesTotal.inc({ outcome });
      // A dropped delivery made no request: it has no duration.
      if (outcome !== 'dropped') metrics.webhookAttemptDuration.observe({ outcome }, seconds);
    },
    outboxAge: (seconds: number) => metrics.webhookOutboxOldestAge.set(seconds),
    jobFailed: () => metrics.webhookDeliveriesTotal.inc({ outcome: 'job_failed' }),
  };
}

/** Committed batch rows (the shape @rechargeflow/batches calls) as metrics. */
export function batchRowMetrics(metrics: Metrics) {
  return (accepted: number, rejected: number) => {
    if (accepted > 0) metrics.batchRowsTotal.inc({ outcome: 'accepted' }, accepted);
    if (rejected > 0) metrics.batchRowsTotal.inc({ outcome: 'rejected' }, rejected);
  };
}

/** Released batch rows (the shape @rechargeflow/batches calls) as a metric. */
export function batchReleaseMetrics(metrics: Metrics) {
  return (rows: number) => metrics.batchRowsReleasedTotal.inc(rows);
}
