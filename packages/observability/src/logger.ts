import { type DestinationStream, type Logger, pino } from 'pino';
import { lineScrubber } from './scrub.ts';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear (docs/product.md, rule 4): credentials, tokens, card data and
 * full phone numbers. Code should not log these in the first place; this is the second line.
 */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  'pwd',
  'pin',
  'secret',
  'token',
  'apiKey',
  'authorization',
  'cardNumber',
  'cvv',
  'number',
  '*.password',
  '*.pwd',
  '*.pin',
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
  /**
   * Secret values cut out of every line by value, in any encoding (scrub.ts): the callback
   * tokens, API keys configured in clear, provider passwords (see `configuredSecrets`).
   */
  readonly secrets?: readonly string[] | undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    // Paths above censor fields; every written line is also scrubbed by value and by place (a
    // callback token in any URL, whatever field or message carries it).
    hooks: { streamWrite: lineScrubber(options.secrets ?? []) },
    base: { pid: process.pid, part: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
