import { z } from 'zod';
import { positiveInt } from './env.ts';

const blank = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalText = () => z.preprocess(blank, z.string().optional());

/**
 * `a1topup_backup` is a second account (or another aggregator) speaking the A1Topup API: the
 * failover target for A1Topup orders.
 */
export const KNOWN_PROVIDERS = ['a1topup', 'a1topup_backup', 'telgoo5'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];

/** Which providers this installation uses, how orders are routed, and the circuit breaker. */
export const routingEnvShape = {
  /** Providers in use, comma-separated: a1topup, telgoo5. Each needs its credentials. */
  PROVIDERS: z.preprocess(
    (v) =>
      typeof v === 'string' && v.trim() !== ''
        ? v.split(',').map((p) => p.trim().toLowerCase())
        : ['a1topup'],
    z
      .array(z.enum(KNOWN_PROVIDERS, { error: `each provider must be one of ${KNOWN_PROVIDERS.join(', ')}` }))
      .min(1),
  ),
  /** Routing table as JSON text (see README); ROUTING_TABLE_FILE wins when both are set. */
  ROUTING_TABLE: optionalText(),
  /** Path of a JSON file with the routing table. */
  ROUTING_TABLE_FILE: optionalText(),
  /** Consecutive failed calls (unreachable, ambiguous) that open a provider's circuit breaker. */
  BREAKER_FAILURE_THRESHOLD: positiveInt(5, 1_000),
  /** How long an open breaker refuses a provider before one probe call is let through. */
  BREAKER_OPEN_MS: positiveInt(30_000, 3_600_000),
};

/** A second A1Topup-protocol provider, for failover. */
export const a1topupBackupEnvShape = {
  /** Base URL of the backup A1Topup-protocol provider (required when PROVIDERS includes a1topup_backup). */
  A1TOPUP_BACKUP_BASE_URL: z.preprocess(
    blank,
    z.url({ error: 'must be a URL such as https://api.example.com' }).optional(),
  ),
  /** Backup provider user name. */
  A1TOPUP_BACKUP_USERNAME: optionalText(),
  /** Backup provider password; never logged. */
  A1TOPUP_BACKUP_PASSWORD: optionalText(),
  /** Answer format asked of the backup provider: json, csv or xml. */
  A1TOPUP_BACKUP_FORMAT: z.preprocess(
    blank,
    z.enum(['json', 'csv', 'xml'], { error: 'must be json, csv or xml' }).default('json'),
  ),
};

/** Telgoo5/VCare: where it is and the credentials issued by its account manager. */
export const telgoo5EnvShape = {
  /** Telgoo5 REST base URL (paths /authenticate, /topup). Default: the simulator on this machine. */
  TELGOO5_BASE_URL: z.preprocess(
    blank,
    z
      .url({ error: 'must be a URL such as https://www.vcareapi.com:8080' })
      .default('http://127.0.0.1:4010/telgoo5'),
  ),
  /** Telgoo5 vendor id. */
  TELGOO5_VENDOR_ID: optionalText(),
  /** Telgoo5 API user name. */
  TELGOO5_USERNAME: optionalText(),
  /** Telgoo5 API password; never logged. */
  TELGOO5_PASSWORD: optionalText(),
  /** Telgoo5 API pin; never logged. */
  TELGOO5_PIN: optionalText(),
  /** Telgoo5 user id of the agent the top-ups are made as (agent_id). */
  TELGOO5_AGENT_ID: optionalText(),
  /** `source` sent with add_topup: WEBSITE, API or TABLET. */
  TELGOO5_SOURCE: z.preprocess(
    blank,
    z.enum(['WEBSITE', 'API', 'TABLET'], { error: 'must be WEBSITE, API or TABLET' }).default('API'),
  ),
  /** `payment_method` sent with add_topup (processing fee basis). */
  TELGOO5_PAYMENT_METHOD: z.preprocess(
    blank,
    z
      .enum(['CREDIT_CARD', 'PAYPAL_BRAINTREE', 'OTHER_PAYMENT_OPTION'], {
        error: 'must be CREDIT_CARD, PAYPAL_BRAINTREE or OTHER_PAYMENT_OPTION',
      })
      .default('CREDIT_CARD'),
  ),
  /** Request header that carries the single-use token (the provider document does not name it). */
  TELGOO5_TOKEN_HEADER: z.preprocess(
    blank,
    z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
      .default('token'),
  ),
};

/** Milliseconds an idle provider connection may be reused for a recharge: 0 (never, the default) to 60 000. */
const keepAliveMs = () =>
  z.preprocess(
    blank,
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number of milliseconds')
      .min(0, 'must be 0 or more')
      .max(60_000, 'must be at most 60000 (one minute)')
      .default(0),
  );

/** Per-provider worker settings: BullMQ queue concurrency, rate limit, connection reuse for recharges. */
export const providerLimitsEnvShape = {
  /** A1Topup calls one worker process runs at once. */
  A1TOPUP_CONCURRENCY: positiveInt(20, 1_000),
  /** A1Topup calls per second across all workers; 0 = no limit. */
  A1TOPUP_RATE_PER_SECOND: z.preprocess(
    blank,
    z.coerce.number({ error: 'must be a number' }).int().min(0, 'must be 0 or more').default(0),
  ),
  /**
   * Reuse an idle connection to A1Topup for the next recharge for at most this many ms (0 = a fresh
   * connection for every recharge, the default). Saves a TCP/TLS handshake per recharge, but a
   * connection the provider closes at the same moment makes that recharge ambiguous instead of
   * provably not sent: keep it well below the provider's own idle timeout.
   */
  A1TOPUP_RECHARGE_KEEP_ALIVE_MS: keepAliveMs(),
  /** Backup A1Topup-protocol provider calls one worker process runs at once. */
  A1TOPUP_BACKUP_CONCURRENCY: positiveInt(20, 1_000),
  /** Backup provider calls per second across all workers; 0 = no limit. */
  A1TOPUP_BACKUP_RATE_PER_SECOND: z.preprocess(
    blank,
    z.coerce.number({ error: 'must be a number' }).int().min(0, 'must be 0 or more').default(0),
  ),
  /** As A1TOPUP_RECHARGE_KEEP_ALIVE_MS, for the backup provider. */
  A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS: keepAliveMs(),
  /** Telgoo5 calls one worker process runs at once. */
  TELGOO5_CONCURRENCY: positiveInt(10, 1_000),
  /** Telgoo5 calls per second across all workers; 0 = no limit. */
  TELGOO5_RATE_PER_SECOND: z.preprocess(
    blank,
    z.coerce.number({ error: 'must be a number' }).int().min(0, 'must be 0 or more').default(0),
  ),
  /**
   * Reuse an idle connection to Telgoo5 for the next top-up for at most this many ms (0 = a fresh
   * connection for every top-up, the default). As for A1Topup, but an ambiguous Telgoo5 top-up
   * waits for manual review (there is no status API), so the default suits it best.
   */
  TELGOO5_RECHARGE_KEEP_ALIVE_MS: keepAliveMs(),
};

/**
 * Credentials each provider in use needs, checked on the raw environment (PROVIDERS defaults to
 * a1topup). Names each missing variable.
 */
export function providerCredentialProblems(env: Record<string, string | undefined>): string[] {
  const providers = (env.PROVIDERS?.trim() ? env.PROVIDERS : 'a1topup')
    .split(',')
    .map((p) => p.trim().toLowerCase());
  const needed: Record<string, readonly string[]> = {
    a1topup: ['A1TOPUP_USERNAME', 'A1TOPUP_PASSWORD'],
    a1topup_backup: ['A1TOPUP_BACKUP_BASE_URL', 'A1TOPUP_BACKUP_USERNAME', 'A1TOPUP_BACKUP_PASSWORD'],
    telgoo5: ['TELGOO5_VENDOR_ID', 'TELGOO5_USERNAME', 'TELGOO5_PASSWORD', 'TELGOO5_PIN', 'TELGOO5_AGENT_ID'],
  };
  return providers.flatMap((provider) =>
    (needed[provider] ?? [])
      .filter((name) => !env[name]?.trim())
      .map((name) => `${name}: is required when PROVIDERS includes ${provider}`),
  );
}
