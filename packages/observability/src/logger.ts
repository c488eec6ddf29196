import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear (PRODUCT.md rule 4): credentials, tokens, card data and
 * full phone numbers. Code should not log these in the first place; this is the second line.
 */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  'pwd',
  'secret',
  'token',
  'apiKey',
  'authorization',
  'cardNumber',
  'cvv',
  'number',
  '*.password',
  '*.pwd',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.authorization',
  '*.cardNumber',
  '*.cvv',
  '*.number',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.number',
  'order.request.number',
  'config.A1TOPUP_PASSWORD',
  'config.API_KEYS',
  'config.CALLBACK_TOKEN',
];

export interface LoggerOptions {
  /** The part of the system: api, worker, poller, simulator, start. */
  readonly name: string;
  readonly level?: string | undefined;
  /** Where lines go; stdout when absent (tests pass a stream to read them back). */
  readonly destination?: DestinationStream | undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    base: { pid: process.pid, part: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
