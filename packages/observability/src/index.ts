export { installShutdown, type ShutdownOptions, type ShutdownStep } from './lifecycle.ts';
export { createLogger, type Logger, type LoggerOptions, REDACTED_PATHS } from './logger.ts';
export { createMetrics, type Metrics, metricsEvents } from './metrics.ts';
export { startMetricsServer } from './metrics-server.ts';
