import {
  apiKeys,
  archiveEnvShape,
  batchRowEnvShape,
  host,
  httpListenerEnvShape,
  metricsEnvShape,
  oneOf,
  parseEnv,
  port,
  positiveInt,
  routingEnvShape,
  storageEnvShape,
  webhookEnvShape,
} from '@rechargeflow/config';
import { providersInUseEnvShape } from '@rechargeflow/providers';
import { z } from 'zod';

const schema = z.object({
  ...storageEnvShape,
  ...providersInUseEnvShape,
  ...routingEnvShape,
  ...httpListenerEnvShape,
  ...metricsEnvShape,
  // Webhook endpoints: their secrets (derived), the address guard at registration, the cap.
  ...webhookEnvShape,
  // The archive retention writes (the poller's LEDGER_ARCHIVE_DIR): GET answers archived orders from it.
  LEDGER_ARCHIVE_DIR: archiveEnvShape.LEDGER_ARCHIVE_DIR,
  /** Port the ingest API listens on. */
  PORT: port(8080),
  /** Interface to bind: 127.0.0.1 on a workstation, 0.0.0.0 in a container. */
  HOST: host(),
  /**
   * Comma-separated client:key[:role]; role is client (default) or operator; key is the secret
   * (>= 16 chars) or, recommended, its hash sha256-<hex> from `npm run api-key`.
   */
  API_KEYS: apiKeys(),
  /**
   * Secret path segment of the provider callback URLs (/callbacks/<provider>/<token>, e.g.
   * /callbacks/a1topup/<token>); comma-separated to accept an old and a new token while rotating.
   * Each >= 16 characters. Unset: no callbacks.
   */
  CALLBACK_TOKEN: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.split(',').map((t) => t.trim()) : []),
    z.array(
      z
        .string()
        .min(16, 'each token must be at least 16 characters')
        .regex(/^[A-Za-z0-9._~-]+$/, 'tokens may use letters, digits and . _ ~ - only'),
    ),
  ),
  /**
   * Which proxies to believe about the client's address (X-Forwarded-For), for per-address limits
   * and logs behind a load balancer: empty (default) trusts none; `true` trusts all (only when the
   * API is unreachable except through the proxy); or a comma-separated list of proxy
   * addresses/CIDRs (recommended).
   */
  TRUST_PROXY: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim() : v),
    z
      .string()
      .default('')
      .transform((text, ctx): boolean | string[] => {
        if (text === '' || text === 'false') return false;
        if (text === 'true') return true;
        const list = text.split(',').map((each) => each.trim());
        if (list.some((each) => !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(each))) {
          ctx.addIssue({
            code: 'custom',
            message: 'must be true or comma-separated IP addresses/CIDRs',
          });
        }
        return list;
      }),
  ),
  /** Requests per minute one client key may make (requests without a valid key: per IP address). */
  RATE_LIMIT_PER_MINUTE: positiveInt(6_000, 1_000_000),
  /** Provider callbacks per minute from one IP address. */
  CALLBACK_RATE_LIMIT_PER_MINUTE: positiveInt(6_000, 1_000_000),
  /** Largest CSV batch upload in bytes (413 above). */
  BATCH_MAX_BYTES: positiveInt(104_857_600, 10_737_418_240),
  /** Most data rows in one CSV batch (413 above). */
  BATCH_MAX_ROWS: positiveInt(1_000_000, 100_000_000),
  ...batchRowEnvShape,
  /** CSV batches one client may have importing at once (429 above). */
  BATCH_MAX_IMPORTING_PER_CLIENT: positiveInt(3, 100),
  /**
   * Bytes of CSV uploads one client may have stored but not yet imported: uploads in progress plus
   * batches stored or importing (429 above, the limit named). Bounds what one client key can make
   * the ledger hold. At least BATCH_MAX_BYTES, so a file within that limit fits when nothing waits.
   */
  BATCH_MAX_PENDING_BYTES_PER_CLIENT: positiveInt(209_715_200, 1_099_511_627_776),
  /**
   * How long an upload's chunks live after its latest chunk (ms) unless its batch is created: what
   * a crashed or abandoned upload holds at most this long; an upload stalled longer between two
   * megabytes is dropped (408).
   */
  BATCH_UPLOAD_LEASE_MS: positiveInt(600_000, 86_400_000),
  /** Largest accepted request body in bytes. */
  BODY_LIMIT_BYTES: positiveInt(16_384, 1_048_576),
  /**
   * The operators' queue board (bull-board) at /admin/queues, for operator keys only. `readonly`
   * (default): queues and jobs are shown, nothing can be changed. `on`: operators may also retry,
   * promote, pause/resume and remove jobs, and clean completed/failed ones (safe: a retried recharge
   * never calls the provider twice, a removed job is recovered by the sweeps); adding, editing,
   * emptying, obliterating and scheduler changes stay refused. `off`: not mounted.
   */
  QUEUE_BOARD: oneOf(['readonly', 'on', 'off'], 'readonly', { lowerCase: true }),
});

export type ApiConfig = z.infer<typeof schema>;

export function loadApiConfig(env: Record<string, string | undefined>): ApiConfig {
  return parseEnv('api', schema, env, (raw) => {
    const parsed = schema
      .pick({ BATCH_MAX_BYTES: true, BATCH_MAX_PENDING_BYTES_PER_CLIENT: true })
      .safeParse(raw);
    return parsed.success && parsed.data.BATCH_MAX_PENDING_BYTES_PER_CLIENT < parsed.data.BATCH_MAX_BYTES
      ? [
          `BATCH_MAX_PENDING_BYTES_PER_CLIENT: must be at least BATCH_MAX_BYTES (${parsed.data.BATCH_MAX_BYTES}), or a file within that limit could never be uploaded`,
        ]
      : [];
  });
}
