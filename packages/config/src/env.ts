import { z } from 'zod';
import { ConfigError } from './config-error.ts';

/*
 * The helpers every part's environment schema is written with. One rule holds for all of them:
 * a variable set to nothing but spaces (`FOO=` in a file) is unset, so its default applies.
 */

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

/** Blank strings count as unset, so `FOO=` in a file behaves like no FOO. */
function blankToUndefined(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

/**
 * `schema` for one variable, a blank value read as unset: the one place "blank means unset" is
 * written. Every helper below is built on it; use it for a variable none of them fits.
 */
export function unsetWhenBlank<S extends z.ZodType>(schema: S) {
  return z.preprocess(blankToUndefined, schema);
}

export function optionalString() {
  return unsetWhenBlank(z.string().optional());
}

/** Text with a default (a user name, a header name); use `optionalString` for one without. */
export function text(defaultValue: string) {
  return unsetWhenBlank(z.string().default(defaultValue));
}

/** An interface to bind: 127.0.0.1 (loopback) unless set, 0.0.0.0 in a container. */
export function host(defaultHost = '127.0.0.1') {
  return text(defaultHost);
}

/**
 * One of `values`, named in the error (`must be json, csv or xml`). `lowerCase`: read without
 * regard to case (and surrounding spaces).
 */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue: T[number],
  options: { readonly lowerCase?: boolean } = {},
) {
  const choice = z.enum(values, { error: `must be ${listed(values, 'or')}` }).default(defaultValue);
  return unsetWhenBlank(
    options.lowerCase
      ? z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), choice)
      : choice,
  );
}

/**
 * A comma-separated list of `values` (at least one, each once, in any order, case and spaces
 * ignored), every one named in the error; blank or unset: `defaults`.
 */
export function someOf<const T extends readonly [string, ...string[]]>(
  values: T,
  defaults: readonly T[number][],
) {
  const allowed = new Set<string>(values);
  return z.preprocess(
    (v) =>
      typeof v === 'string' && v.trim() !== ''
        ? [...new Set(v.split(',').map((each) => each.trim().toLowerCase()))]
        : [...defaults],
    z
      .array(z.string())
      .superRefine((list, ctx) => {
        for (const each of list) {
          if (!allowed.has(each))
            ctx.addIssue({ code: 'custom', message: `each must be ${listed(values, 'or')} (not "${each}")` });
        }
      })
      .transform((list) => list as T[number][]),
  );
}

/** `a, b or c`. */
function listed(values: readonly string[], last: string): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} ${last} ${values.at(-1)}`;
}

export function port(defaultPort: number) {
  return unsetWhenBlank(
    z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(defaultPort),
  );
}

function positiveWholeNumber(max: number) {
  return z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .positive('must be greater than 0')
    .max(max, `must be at most ${max}`);
}

export function positiveInt(defaultValue: number, max = Number.MAX_SAFE_INTEGER) {
  return unsetWhenBlank(positiveWholeNumber(max).default(defaultValue));
}

/** As `positiveInt`, without a default: unset stays `undefined` (the part derives a value). */
export function optionalPositiveInt(max = Number.MAX_SAFE_INTEGER) {
  return unsetWhenBlank(positiveWholeNumber(max).optional());
}

/** A whole number from 0 to `max` (0 usually meaning "none" or "off"). */
export function nonNegativeInt(defaultValue: number, max = Number.MAX_SAFE_INTEGER) {
  return unsetWhenBlank(
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be 0 or more')
      .max(max, `must be at most ${max}`)
      .default(defaultValue),
  );
}

export function url(defaultUrl?: string) {
  const base = z.url({ error: 'must be a URL such as http://host:port' });
  return unsetWhenBlank(defaultUrl === undefined ? base.optional() : base.default(defaultUrl));
}

const REDIS_URL = z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');

export function redisUrl() {
  return unsetWhenBlank(REDIS_URL.default('redis://127.0.0.1:6379'));
}

/** A Redis URL without a default: unset stays `undefined` (the part falls back on another one). */
export function optionalRedisUrl() {
  return unsetWhenBlank(REDIS_URL.optional());
}

/** Where a Redis Cluster is first reached, and how to log in to every node of it. */
export interface RedisClusterSeeds {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** `rediss://` seeds: TLS to every node. */
  readonly tls: boolean;
}

const SEED = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/;

/**
 * Seeds of a Redis Cluster, comma-separated: `host:port` each (`[::1]:7000` for IPv6), or
 * `redis://[user:password@]host:port` (`rediss://` for TLS) to carry the credentials, which then
 * apply to every node; seeds that name different credentials or TLS are refused. Unset: `undefined`.
 */
export function redisClusterNodes() {
  const message =
    'must be host:port seeds separated by commas (or redis://[user:password@]host:port), the same credentials and TLS on each';
  return unsetWhenBlank(
    z
      .string()
      .transform((text, ctx): RedisClusterSeeds => {
        const seeds = text.split(',').map((each) => parseSeed(each.trim()));
        const first = seeds[0];
        const withLogin = seeds.filter((s) => s?.url);
        const agree = withLogin.every(
          (s) =>
            s?.username === withLogin[0]?.username &&
            s?.password === withLogin[0]?.password &&
            s?.tls === withLogin[0]?.tls,
        );
        if (!first || seeds.some((s) => s === undefined) || !agree) {
          ctx.addIssue({ code: 'custom', message });
          return z.NEVER;
        }
        const login = withLogin[0];
        return {
          nodes: seeds.map((s) => ({ host: s?.host ?? '', port: s?.port ?? 0 })),
          ...(login?.username ? { username: login.username } : {}),
          ...(login?.password ? { password: login.password } : {}),
          tls: login?.tls ?? false,
        };
      })
      .optional(),
  );
}

interface Seed {
  readonly host: string;
  readonly port: number;
  readonly url: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

function parseSeed(text: string): Seed | undefined {
  if (/^rediss?:\/\//.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return undefined;
    }
    const port = Number(url.port);
    if (!url.hostname || !(port >= 1 && port <= 65535) || (url.pathname !== '' && url.pathname !== '/'))
      return undefined;
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      url: true,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      tls: url.protocol === 'rediss:',
    };
  }
  const match = SEED.exec(text);
  const port = Number(match?.[3]);
  if (!match || !(port >= 1 && port <= 65535)) return undefined;
  return { host: match[1] ?? match[2] ?? '', port, url: false, tls: false };
}

/** A switch: on, off, true, false, 1 or 0 (any case), read as a boolean. */
export function onOff(defaultValue: 'on' | 'off') {
  return unsetWhenBlank(
    z.preprocess(
      (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
      z
        .enum(['on', 'off', 'true', 'false', '1', '0'], { error: 'must be on or off' })
        .default(defaultValue)
        .transform((v) => v === 'on' || v === 'true' || v === '1'),
    ),
  );
}

export function logLevel() {
  return unsetWhenBlank(
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  );
}

/** Seconds between checks, comma-separated, e.g. `30,60,120`; the last one repeats. */
export function secondsList(defaultValue: string) {
  return unsetWhenBlank(
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
        // Never empty: a blank value is the default, and an empty part is refused above.
        return values as [number, ...number[]];
      }),
  );
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration such as `48h`, `15m`, `30s`, `500ms`, or a plain number of seconds; parsed to ms.
 * `allowZero` for a setting whose 0 means "off" (ORDER_MAX_WAIT).
 */
export function duration(
  defaultValue: string,
  options: {
    readonly allowZero?: boolean;
    readonly min?: { readonly ms: number; readonly text: string };
  } = {},
) {
  return unsetWhenBlank(
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
        if (ms <= 0 && !(ms === 0 && options.allowZero)) {
          ctx.addIssue({
            code: 'custom',
            message: options.allowZero ? 'must be 0 (off) or longer' : 'must be longer than 0',
          });
          return z.NEVER;
        }
        if (options.min !== undefined && ms > 0 && ms < options.min.ms) {
          ctx.addIssue({
            code: 'custom',
            message: `must be ${options.allowZero ? '0 (off) or ' : ''}at least ${options.min.text}`,
          });
          return z.NEVER;
        }
        return Math.round(ms);
      }),
  );
}
