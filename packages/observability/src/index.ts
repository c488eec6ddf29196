export {
  DASHBOARDS,
  type DashboardSpec,
  dashboardText,
  type PanelSpec,
  panelQueries,
  renderDashboard,
} from './dashboards.ts';
export { installShutdown, type ShutdownOptions, type ShutdownStep } from './lifecycle.ts';
export { applyListenerLimits, type ListenerLimits, listenerLimits } from './listener-limits.ts';
export { createLogger, type Logger, type LoggerOptions, REDACTED_PATHS } from './logger.ts';
export {
  batchReleaseMetrics,
  batchRowMetrics,
  createMetrics,
  jobMetrics,
  type Metrics,
  metricsEvents,
  webhookMetrics,
} from './metrics.ts';
export { startMetricsServer } from './metrics-server.ts';
export { RETENTION_OUTCOMES, type RetentionOutcome, retentionMetrics } from './retention-metrics.ts';
export {
  lineScrubber,
  MIN_SECRET_LENGTH,
  REDACTED,
  redactCallbackPaths,
  secretScrubber,
} from './scrub.ts';
export {
  BREAKER_STATES,
  type RedisMemorySample,
  registerSystemGauges,
  type SystemSources,
} from './system-gauges.ts';
