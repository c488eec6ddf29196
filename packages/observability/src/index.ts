export { createLogger, type Logger, type LoggerOptions, REDACTED_PATHS } from './logger.ts';
export { createMetrics, type Metrics } from './metrics.ts';
