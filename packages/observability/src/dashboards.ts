// Grafana dashboards for Rechargeflow as data. `npm run dashboards` writes them into
// docker/grafana/dashboards/*.json (what Grafana provisions); the observability test fails when the
// files differ from this source, and runs every panel's query on a real Prometheus scraping the
// real system.
type Unit = 'ops' | 'percentunit' | 's' | 'short' | 'bytes' | 'none' | 'currencyINR' | 'reqps';

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly kind: 'timeseries' | 'stat' | 'bargauge' | 'table';
  readonly unit: Unit;
  readonly targets: readonly {
    readonly expr: string;
    readonly legend?: string;
    readonly instant?: boolean;
  }[];
  /** Grid width (of 24); height is fixed per kind. */
  readonly width?: number;
  readonly thresholds?: readonly { readonly value: number; readonly color: string }[];
}

export interface DashboardSpec {
  readonly uid: string;
  readonly file: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly PanelSpec[];
}

const RATE = '$__rate_interval';
const P = 'provider=~"$provider"';
const FINAL = 'status=~"success|failed"';

export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    uid: 'rechargeflow-overview',
    file: 'overview.json',
    title: 'Rechargeflow / Overview',
    description:
      'Is money moving? Orders by state, success rates, provider latency, the pending backlog and reversals.',
    panels: [
      {
        title: 'Orders per second by state',
        description: 'Transitions into each state (queued = accepted, success/failed = final).',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          { expr: `sum by (status) (rate(rechargeflow_orders_total{${P}}[${RATE}]))`, legend: '{{status}}' },
        ],
      },
      {
        title: 'Success rate by provider',
        description:
          'success / (success + failed) among orders that became final; pending ones are not counted yet.',
        kind: 'timeseries',
        unit: 'percentunit',
        width: 12,
        targets: [
          {
            expr: `sum by (provider) (rate(rechargeflow_orders_total{status="success",${P}}[${RATE}])) / sum by (provider) (rate(rechargeflow_orders_total{${FINAL},${P}}[${RATE}]))`,
            legend: '{{provider}}',
          },
        ],
      },
      {
        title: 'Success rate by operator (dashboard range)',
        description: 'Per operator code over the whole time range shown; the worst operators first.',
        kind: 'bargauge',
        unit: 'percentunit',
        width: 8,
        targets: [
          {
            expr: `bottomk(15, sum by (operator) (increase(rechargeflow_orders_total{status="success",${P}}[$__range])) / sum by (operator) (increase(rechargeflow_orders_total{${FINAL},${P}}[$__range])))`,
            legend: '{{operator}}',
            instant: true,
          },
        ],
        thresholds: [
          { value: 0, color: 'red' },
          { value: 0.9, color: 'orange' },
          { value: 0.97, color: 'green' },
        ],
      },
      {
        title: 'Recharge call latency (p50, p95, p99)',
        description: 'Time of the provider recharge call, all outcomes.',
        kind: 'timeseries',
        unit: 's',
        width: 8,
        targets: [0.5, 0.95, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(rechargeflow_provider_request_duration_seconds_bucket{endpoint="recharge",${P}}[${RATE}])))`,
          legend: `p${q * 100}`,
        })),
      },
      {
        title: 'Ingest API requests by status',
        description: 'Requests answered by the API, by HTTP status code.',
        kind: 'timeseries',
        unit: 'reqps',
        width: 8,
        targets: [
          {
            expr: `sum by (status) (rate(rechargeflow_http_requests_total[${RATE}]))`,
            legend: '{{status}}',
          },
        ],
      },
      {
        title: 'Pending orders',
        description:
          'Orders whose outcome is not known yet (the poller settles them by status and callbacks).',
        kind: 'stat',
        unit: 'short',
        width: 6,
        targets: [{ expr: 'max(rechargeflow_pending_orders)', legend: 'pending' }],
      },
      {
        title: 'Oldest pending order',
        description: 'Age of the oldest pending order; orders past PENDING_MAX_AGE go to manual review.',
        kind: 'stat',
        unit: 's',
        width: 6,
        targets: [{ expr: 'max(rechargeflow_pending_orders_oldest_age_seconds)', legend: 'age' }],
        thresholds: [
          { value: 0, color: 'green' },
          { value: 1800, color: 'orange' },
          { value: 7200, color: 'red' },
        ],
      },
      {
        title: 'Waiting for an operator (manual review)',
        description: 'Orders only a person can settle; see GET /v1/manual-review.',
        kind: 'stat',
        unit: 'short',
        width: 6,
        targets: [{ expr: 'max(rechargeflow_manual_review_orders)', legend: 'manual review' }],
        thresholds: [
          { value: 0, color: 'green' },
          { value: 1, color: 'orange' },
        ],
      },
      {
        title: 'Reversals (dashboard range)',
        description: 'Dispute reversals applied to successful orders, and their amount.',
        kind: 'stat',
        unit: 'short',
        width: 6,
        targets: [
          {
            expr: `sum(increase(rechargeflow_reversals_total{${P}}[$__range]))`,
            legend: 'reversals',
            instant: true,
          },
          {
            expr: `sum(increase(rechargeflow_reversed_amount_rupees_total{${P}}[$__range]))`,
            legend: 'rupees',
            instant: true,
          },
        ],
      },
      {
        title: 'Pending backlog over time',
        description: 'Pending and manual-review orders.',
        kind: 'timeseries',
        unit: 'short',
        width: 24,
        targets: [
          { expr: 'max(rechargeflow_pending_orders)', legend: 'pending' },
          { expr: 'max(rechargeflow_manual_review_orders)', legend: 'manual review' },
        ],
      },
    ],
  },
  {
    uid: 'rechargeflow-queues',
    file: 'queues-and-workers.json',
    title: 'Rechargeflow / Queues and workers',
    description:
      'Are the queues draining? Depth by state, throughput, stalled jobs, workers alive, process health.',
    panels: [
      {
        title: 'Queue depth by state',
        description: 'Jobs waiting, delayed (retry back-off), prioritized and active, per BullMQ queue.',
        kind: 'timeseries',
        unit: 'short',
        width: 12,
        targets: [
          {
            expr: 'max by (queue, state) (rechargeflow_queue_jobs{state=~"waiting|prioritized|delayed|active"})',
            legend: '{{queue}} {{state}}',
          },
        ],
      },
      {
        title: 'Job runs per second by outcome',
        description: 'completed, retry (provably unsent, tried again) and failed runs, per queue.',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (queue, outcome) (rate(rechargeflow_jobs_processed_total[${RATE}]))`,
            legend: '{{queue}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Job duration p95',
        description: 'Time one run of a job takes, per queue.',
        kind: 'timeseries',
        unit: 's',
        width: 8,
        targets: [
          {
            expr: `histogram_quantile(0.95, sum by (le, queue) (rate(rechargeflow_job_duration_seconds_bucket[${RATE}])))`,
            legend: '{{queue}}',
          },
        ],
      },
      {
        title: 'Stalled jobs',
        description:
          'Jobs whose worker stopped renewing the lock (crashed or blocked); BullMQ hands them on once.',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        targets: [
          {
            expr: `sum by (queue) (increase(rechargeflow_jobs_stalled_total[${RATE}]))`,
            legend: '{{queue}}',
          },
        ],
      },
      {
        title: 'Failed jobs kept',
        description: 'Jobs that ended failed and are kept for 7 days (the ledger holds the order outcome).',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        targets: [{ expr: 'max by (queue) (rechargeflow_queue_jobs{state="failed"})', legend: '{{queue}}' }],
      },
      {
        title: 'Workers alive',
        description:
          'Worker processes Prometheus reaches, and worker connections per queue as BullMQ sees them.',
        kind: 'timeseries',
        unit: 'short',
        width: 12,
        targets: [
          { expr: 'sum(up{job="worker"})', legend: 'worker processes up' },
          { expr: 'max by (queue) (rechargeflow_queue_workers)', legend: '{{queue}}' },
        ],
      },
      {
        title: 'Batch rows per second',
        description:
          'CSV batch rows imported and committed (accepted, rejected), and released: their orders handed to the queue, as it has room.',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (outcome) (rate(rechargeflow_batch_rows_total[${RATE}]))`,
            legend: '{{outcome}}',
          },
          { expr: `sum(rate(rechargeflow_batch_rows_released_total[${RATE}]))`, legend: 'released' },
        ],
      },
      {
        title: 'Webhook deliveries by outcome',
        description:
          'Webhook POSTs per second: delivered (2xx), retry (failed, tried again on the back-off), failed (given up after WEBHOOK_RETRY_FOR). See GET /v1/webhooks/:id/deliveries.',
        kind: 'timeseries',
        unit: 'ops',
        width: 8,
        targets: [
          {
            expr: `sum by (outcome) (rate(rechargeflow_webhook_deliveries_total[${RATE}]))`,
            legend: '{{outcome}}',
          },
        ],
      },
      {
        title: 'Webhook attempt latency p95',
        description: 'Time of one webhook POST (bounded by WEBHOOK_TIMEOUT_MS), by outcome.',
        kind: 'timeseries',
        unit: 's',
        width: 8,
        targets: [
          {
            expr: `histogram_quantile(0.95, sum by (le, outcome) (rate(rechargeflow_webhook_attempt_duration_seconds_bucket[${RATE}])))`,
            legend: '{{outcome}}',
          },
        ],
      },
      {
        title: 'Webhook deliveries waiting',
        description:
          'Deliveries queued (waiting) or waiting out their back-off (delayed), and the age of the oldest outbox entry not yet dispatched.',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        targets: [
          {
            expr: 'max by (state) (rechargeflow_queue_jobs{queue="webhooks",state=~"waiting|delayed|active"})',
            legend: '{{state}}',
          },
          { expr: 'max(rechargeflow_webhook_outbox_oldest_age_seconds)', legend: 'outbox oldest (s)' },
        ],
      },
      {
        title: 'Resident memory by process',
        description:
          'RSS of every part; the importer should stay under 256 MB while it imports (its heap flags).',
        kind: 'timeseries',
        unit: 'bytes',
        width: 12,
        targets: [
          {
            expr: 'max by (job, instance) (rechargeflow_process_resident_memory_bytes)',
            legend: '{{job}} {{instance}}',
          },
        ],
      },
      {
        title: 'Event loop lag p99',
        description: 'A busy or blocked event loop delays lock renewals and HTTP answers.',
        kind: 'timeseries',
        unit: 's',
        width: 12,
        targets: [
          {
            expr: 'max by (job, instance) (rechargeflow_nodejs_eventloop_lag_p99_seconds)',
            legend: '{{job}} {{instance}}',
          },
        ],
      },
      {
        title: 'Redis memory by role',
        description:
          'Memory each Redis uses (INFO used_memory) and its maxmemory, by role (ledger, queue, or ledger+queue on one server); at maxmemory it refuses every write. No maxmemory line: no limit.',
        kind: 'timeseries',
        unit: 'bytes',
        width: 16,
        targets: [
          { expr: 'max by (role) (rechargeflow_redis_memory_used_bytes)', legend: '{{role}} used' },
          {
            expr: 'max by (role) (rechargeflow_redis_memory_max_bytes > 0)',
            legend: '{{role}} maxmemory',
          },
        ],
      },
      {
        title: 'Redis memory used of maxmemory',
        description:
          'used / maxmemory per Redis role; the alert warns at 80%. A Redis without maxmemory is not shown (its growth is alerted on instead).',
        kind: 'bargauge',
        unit: 'percentunit',
        width: 8,
        targets: [
          {
            expr: 'max by (role) (rechargeflow_redis_memory_used_bytes / (rechargeflow_redis_memory_max_bytes > 0))',
            legend: '{{role}}',
            instant: true,
          },
        ],
        thresholds: [
          { value: 0, color: 'green' },
          { value: 0.8, color: 'orange' },
          { value: 0.95, color: 'red' },
        ],
      },
    ],
  },
  {
    uid: 'rechargeflow-providers',
    file: 'providers.json',
    title: 'Rechargeflow / Providers',
    description:
      'How each provider behaves: latency, outcome classes, circuit breaker, balance and burn rate, callbacks.',
    panels: [
      {
        title: 'Provider call latency p95 by endpoint',
        description: 'recharge and status calls, all outcomes.',
        kind: 'timeseries',
        unit: 's',
        width: 12,
        targets: [
          {
            expr: `histogram_quantile(0.95, sum by (le, provider, endpoint) (rate(rechargeflow_provider_request_duration_seconds_bucket{${P}}[${RATE}])))`,
            legend: '{{provider}} {{endpoint}}',
          },
        ],
      },
      {
        title: 'Calls per second by outcome class',
        description:
          'success, failed (definite refusal), pending, not_sent (provably never reached the provider: retried) and ambiguous (may have been applied: never resent, settled by status).',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (provider, endpoint, outcome) (rate(rechargeflow_provider_request_duration_seconds_count{${P}}[${RATE}]))`,
            legend: '{{provider}} {{endpoint}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Circuit breaker',
        description: 'Current breaker state per provider (open: new orders are routed elsewhere or wait).',
        kind: 'table',
        unit: 'none',
        width: 8,
        targets: [
          {
            expr: `max by (provider, state) (rechargeflow_provider_breaker_state{${P}}) == 1`,
            legend: '{{provider}} {{state}}',
            instant: true,
          },
        ],
      },
      {
        title: 'Balance',
        description: 'Latest sampled prepaid balance per provider (sampled by the poller).',
        kind: 'timeseries',
        unit: 'currencyINR',
        width: 8,
        targets: [
          { expr: `max by (provider) (rechargeflow_provider_balance{${P}})`, legend: '{{provider}}' },
        ],
      },
      {
        title: 'Burn rate (per hour) and hours left',
        description:
          'How fast the balance falls over the last 30 minutes, and how long it lasts at that pace.',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        targets: [
          {
            expr: `clamp_min(-deriv(max by (provider) (rechargeflow_provider_balance{${P}})[30m:1m]), 0) * 3600`,
            legend: '{{provider}} per hour',
          },
          {
            expr: `max by (provider) (rechargeflow_provider_balance{${P}}) / clamp_min(-deriv(max by (provider) (rechargeflow_provider_balance{${P}})[30m:1m]) * 3600, 0.01)`,
            legend: '{{provider}} hours left',
          },
        ],
      },
      {
        title: 'Callbacks by outcome',
        description:
          'Provider callbacks: applied, no_change, duplicate, unknown_order, reversal_not_confirmed, forged, rejected.',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (provider, outcome) (rate(rechargeflow_callbacks_total{${P}}[${RATE}]))`,
            legend: '{{provider}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Orders per second by provider and state',
        description: 'Where orders go after routing and failover.',
        kind: 'timeseries',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (provider, status) (rate(rechargeflow_orders_total{${P}}[${RATE}]))`,
            legend: '{{provider}} {{status}}',
          },
        ],
      },
    ],
  },
];

const HEIGHT = { timeseries: 8, stat: 5, bargauge: 8, table: 8 } as const;
const DATASOURCE = { type: 'prometheus', uid: 'prometheus' } as const;

/** The Grafana JSON model of one dashboard (schema of Grafana 10/11/12, provisioned from a file). */
export function renderDashboard(spec: DashboardSpec): Record<string, unknown> {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = spec.panels.map((panel, index) => {
    const w = panel.width ?? 12;
    const h = HEIGHT[panel.kind];
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { h, w, x, y };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return {
      id: index + 1,
      type: panel.kind,
      title: panel.title,
      description: panel.description,
      datasource: DATASOURCE,
      gridPos,
      fieldConfig: {
        defaults: {
          unit: panel.unit,
          ...(panel.unit === 'percentunit' ? { min: 0, max: 1 } : {}),
          ...(panel.thresholds
            ? { thresholds: { mode: 'absolute', steps: panel.thresholds.map(thresholdStep) } }
            : {}),
        },
        overrides: [],
      },
      options:
        panel.kind === 'timeseries'
          ? {
              legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
              tooltip: { mode: 'multi' },
            }
          : panel.kind === 'table'
            ? { showHeader: true }
            : { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
      targets: panel.targets.map((target, t) => ({
        refId: String.fromCharCode(65 + t),
        datasource: DATASOURCE,
        expr: target.expr,
        legendFormat: target.legend ?? '',
        range: !target.instant,
        instant: target.instant ?? false,
      })),
    };
  });
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['rechargeflow'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        {
          name: 'provider',
          label: 'Provider',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: 'label_values(rechargeflow_orders_total, provider)', refId: 'provider' },
          definition: 'label_values(rechargeflow_orders_total, provider)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { selected: true, text: ['All'], value: ['$__all'] },
          refresh: 2,
          sort: 1,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

function thresholdStep(step: { value: number; color: string }, index: number) {
  // Grafana's first step is the base (value null).
  return { color: step.color, value: index === 0 ? null : step.value };
}

export function dashboardText(spec: DashboardSpec): string {
  return `${JSON.stringify(renderDashboard(spec), null, 2)}\n`;
}

/**
 * Every panel query as Prometheus runs it, Grafana's variables replaced as Grafana would with the
 * provider variable on All and a one-hour range.
 */
export function panelQueries(): { dashboard: string; panel: string; expr: string }[] {
  return DASHBOARDS.flatMap((dashboard) =>
    dashboard.panels.flatMap((panel) =>
      panel.targets.map((target) => ({
        dashboard: dashboard.title,
        panel: panel.title,
        expr: target.expr
          .replaceAll('$__rate_interval', '1m')
          .replaceAll('$__range', '1h')
          .replaceAll('$provider', '.*'),
      })),
    ),
  );
}
