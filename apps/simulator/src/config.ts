import {
  host,
  logLevel,
  oneOf,
  onOff,
  parseEnv,
  port,
  positiveInt,
  text,
  unsetWhenBlank,
} from '@rechargeflow/config';
import { ANSWER_CALLBACK_MODES } from '@rechargeflow/simulator';
import { z } from 'zod';

function rate() {
  return unsetWhenBlank(
    z.coerce
      .number({ error: 'must be a number from 0 to 1' })
      .min(0, 'must be a number from 0 to 1')
      .max(1, 'must be a number from 0 to 1')
      .default(0),
  );
}

function millis(defaultValue: number) {
  return unsetWhenBlank(
    z.coerce
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(0, 'must be 0 or more')
      .max(3_600_000, 'must be at most 3600000 (one hour)')
      .default(defaultValue),
  );
}

const RATE_NAMES = [
  'SIM_FAILURE_RATE',
  'SIM_PENDING_RATE',
  'SIM_GARBAGE_RATE',
  'SIM_SERVER_ERROR_RATE',
  'SIM_TIMEOUT_RATE',
  'SIM_RESET_RATE',
] as const;

const schema = z
  .object({
    /** Port the simulator listens on; 0 picks a free one. */
    SIMULATOR_PORT: port(4010),
    /** Interface to bind: 127.0.0.1 on a workstation, 0.0.0.0 in a container. */
    SIMULATOR_HOST: host(),
    /** The A1Topup user name the simulator accepts (the worker must use the same). */
    A1TOPUP_USERNAME: text('demo'),
    /** The A1Topup password the simulator accepts; never logged. */
    A1TOPUP_PASSWORD: text('demo-password'),
    /** Telgoo5 part (under /telgoo5): the vendor id /telgoo5/authenticate accepts (the worker must use the same). */
    TELGOO5_VENDOR_ID: text('demo-vendor'),
    /** Telgoo5 part: the user name /telgoo5/authenticate accepts. */
    TELGOO5_USERNAME: text('demo'),
    /** Telgoo5 part: the password /telgoo5/authenticate accepts; never logged. */
    TELGOO5_PASSWORD: text('demo-password'),
    /** Telgoo5 part: the pin /telgoo5/authenticate accepts; never logged. */
    TELGOO5_PIN: text('1234'),
    /** Telgoo5 part: the agent_id(s) a top-up may carry, comma-separated; any other is RESTAPI104. */
    TELGOO5_AGENT_ID: unsetWhenBlank(
      z
        .string()
        .default('demo-agent')
        .transform((text) =>
          text
            .split(',')
            .map((a) => a.trim())
            .filter(Boolean),
        )
        .refine((ids) => ids.length > 0, 'must name at least one agent id'),
    ),
    /** Telgoo5 part: the request header that carries the token (the worker must use the same). */
    TELGOO5_TOKEN_HEADER: unsetWhenBlank(
      z
        .string()
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name such as token')
        .default('token'),
    ),
    /** Telgoo5 part: how long a token lives after issue, in ms (the provider says 15 minutes). */
    SIM_TELGOO5_TOKEN_TTL_MS: positiveInt(900_000, 86_400_000),
    /** Telgoo5 part: answers with an errors array laid out like the document's samples (invalid JSON): on or off. */
    SIM_TELGOO5_DOCUMENT_BODIES: onOff('off'),
    /** Base delay before every API answer, in milliseconds. */
    SIM_LATENCY_MS: millis(0),
    /** Share of new orders (0-1) answered Failure. */
    SIM_FAILURE_RATE: rate(),
    /** Share of new orders answered Pending, settling to Success after SIM_SETTLE_AFTER_MS. */
    SIM_PENDING_RATE: rate(),
    /** Share of new orders recorded, then answered with unparseable text. */
    SIM_GARBAGE_RATE: rate(),
    /** Share of new orders recorded, then answered HTTP 500. */
    SIM_SERVER_ERROR_RATE: rate(),
    /** Share of new orders recorded, then never answered (held SIM_HOLD_MS, then dropped). */
    SIM_TIMEOUT_RATE: rate(),
    /** Share of new orders recorded, then the connection reset. */
    SIM_RESET_RATE: rate(),
    /** How long pending orders stay pending, and successes wait before a scripted reversal. */
    SIM_SETTLE_AFTER_MS: millis(2_000),
    /** Delay of the `slow` behaviour (magic amount 29). */
    SIM_SLOW_MS: millis(2_000),
    /** How long the `timeout` behaviour (magic amount 31) holds a request before dropping it. */
    SIM_HOLD_MS: millis(60_000),
    /** Body size of the `oversize` behaviour (magic amount 59), in bytes. */
    SIM_OVERSIZE_BYTES: positiveInt(1_048_576, 64 * 1_048_576),
    /** Where late results and reversals are sent: GET <url>?txid=<orderid>&status=Success|Failure&opid=... */
    SIM_CALLBACK_URL: unsetWhenBlank(
      z
        .url({
          protocol: /^https?$/,
          error: 'must be an http(s) URL such as http://127.0.0.1:8080/callbacks/a1topup/<token>',
        })
        .optional(),
    ),
    /** How many times every automatic callback (late result, reversal) is sent: 1 to 20. */
    SIM_CALLBACK_COPIES: positiveInt(1, 20),
    /** Whether those copies are sent at once (on) or one after another (off). */
    SIM_CALLBACK_CONCURRENT: onOff('off'),
    /**
     * A definite Success/Failure answer also sends its callback: off, before (delivered before the
     * answer), after (once the answer has gone), race (either, per order, from SIM_SEED and the orderid).
     */
    SIM_ANSWER_CALLBACK: oneOf(ANSWER_CALLBACK_MODES, 'off'),
    /** Most time between that callback and the answer; each order waits a seeded share of it. */
    SIM_ANSWER_CALLBACK_GAP_MS: millis(0),
    /** Seed of the random faults: the same seed replays the same faults. Unset: a random seed, logged. */
    SIM_SEED: unsetWhenBlank(
      z.coerce
        .number({ error: 'must be a whole number' })
        .int('must be a whole number')
        .min(0, 'must be 0 or more')
        .max(4_294_967_295, 'must be at most 4294967295')
        .optional(),
    ),
    /** Starting balance in rupees (up to two decimals). */
    SIM_INITIAL_BALANCE: unsetWhenBlank(
      z
        .string()
        .regex(/^\d{1,9}(\.\d{1,2})?$/, 'must be rupees with at most two decimals, e.g. 100000 or 2500.50')
        .default('100000')
        .transform(Number),
    ),
    /** Whether magic amounts (13 failure, 17 pending, 31 timeout, ...) pick behaviours: on or off. */
    SIM_MAGIC_AMOUNTS: onOff('on'),
    /** XML answers with named elements (named) or values only in order (positional). */
    SIM_XML_STYLE: oneOf(['named', 'positional'], 'named'),
    /** pino level: fatal, error, warn, info, debug, trace, silent. */
    LOG_LEVEL: logLevel(),
    /** Longest a graceful shutdown may take before the process exits anyway. */
    SHUTDOWN_TIMEOUT_MS: positiveInt(10_000, 600_000),
  })
  .superRefine((c, ctx) => {
    const sum = RATE_NAMES.reduce((total, name) => total + c[name], 0);
    if (sum > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [RATE_NAMES.join('+')],
        message: `must add up to at most 1 (they add up to ${Number(sum.toFixed(6))})`,
      });
    }
  });

export type SimulatorConfig = z.infer<typeof schema>;

/** Parses the environment (in main, never at import); throws a ConfigError naming every bad variable. */
export function parseSimulatorConfig(env: Record<string, string | undefined>): SimulatorConfig {
  return parseEnv('simulator', schema, env);
}
