import { z } from 'zod';

/** Start-up refused: names every bad variable and the rule it breaks. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(app: string, problems: readonly string[]) {
    super(`${app}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses `env` with `schema` (called in main, never at import). */
export function parseEnv<S extends z.ZodType>(
  app: string,
  schema: S,
  env: Record<string, string | undefined>,
  /** Rules across variables, read from the raw environment so every problem is reported at once. */
  crossChecks: (env: Record<string, string | undefined>) => string[] = () => [],
): z.infer<S> {
  const result = schema.safeParse(env);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => {
        const name = issue.path.map(String).join('.') || '(environment)';
        return `${name}: ${issue.message}`;
      });
  problems.push(...crossChecks(env));
  if (result.success && problems.length === 0) return result.data;
  throw new ConfigError(app, problems);
}

/** Empty strings count as unset, so `FOO=` in a file behaves like no FOO. */
function emptyToUndefined(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

export function optionalString() {
  return z.preprocess(emptyToUndefined, z.string().optional());
}

export function port(defaultPort: number) {
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(defaultPort),
  );
}

export function positiveInt(defaultValue: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .positive('must be greater than 0')
      .max(max, `must be at most ${max}`)
      .default(defaultValue),
  );
}

export function url(defaultUrl?: string) {
  const base = z.url({ error: 'must be a URL such as http://host:port' });
  return z.preprocess(
    emptyToUndefined,
    defaultUrl === undefined ? base.optional() : base.default(defaultUrl),
  );
}

export function redisUrl() {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .default('redis://127.0.0.1:6379'),
  );
}

export function onOff(defaultValue: 'on' | 'off') {
  return z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
    z
      .enum(['on', 'off', 'true', 'false', '1', '0'], { error: 'must be on or off' })
      .default(defaultValue)
      .transform((v) => v === 'on' || v === 'true' || v === '1'),
  );
}

export function logLevel() {
  return z.preprocess(
    emptyToUndefined,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  );
}

/** Seconds between checks, comma-separated, e.g. `30,60,120`; the last one repeats. */
export function secondsList(defaultValue: string) {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(defaultValue)
      .transform((text, ctx) => {
        const parts = text.split(',').map((p) => p.trim());
        const values = parts.map(Number);
        if (parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v) || v <= 0)) {
          ctx.addIssue({
            code: 'custom',
            message: 'must be positive numbers of seconds separated by commas',
          });
          return z.NEVER;
        }
        return values;
      }),
  );
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `48h`, `15m`, `30s`, `500ms`, or a plain number of seconds; parsed to ms. */
export function duration(defaultValue: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .default(defaultValue)
      .transform((text, ctx) => {
        const match = DURATION.exec(text.trim());
        if (!match) {
          ctx.addIssue({ code: 'custom', message: 'must be a duration such as 48h, 15m, 30s or 500ms' });
          return z.NEVER;
        }
        const ms = Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1_000);
        if (ms <= 0) {
          ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
          return z.NEVER;
        }
        return Math.round(ms);
      }),
  );
}
