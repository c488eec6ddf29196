import { z } from 'zod';
import { duration, onOff, positiveInt, unsetWhenBlank } from './env.ts';

/**
 * The longest WEBHOOK_RETRY_FOR: well inside the 30 days a delivery is kept (DELIVERY_TTL_MS of
 * @rechargeflow/ledger; apps/worker/test/webhook-limits.test.ts holds the two together), so every delivery ends,
 * delivered or given up, while its record is there, and a given-up one stays readable and
 * retryable by hand for weeks after.
 */
export const MAX_WEBHOOK_RETRY_FOR_MS = 7 * 86_400_000;

/**
 * Signed webhooks (api and worker read the same shape; docs/configuration.md, "Webhooks"). The API
 * registers endpoints and shows each one's secret once; the workers dispatch the outbox and send.
 */
export const webhookEnvShape = {
  /**
   * The deployment's webhook key: each endpoint's signing secret is derived from it and the
   * endpoint id (HMAC), never stored. At least 32 characters; the same value in the API and every
   * worker. Changing it changes every endpoint's secret. Unset: POST /v1/webhooks answers 503 and
   * workers send no webhooks. Scrubbed from logs by its name (`*_SECRET`).
   */
  WEBHOOK_SIGNING_SECRET: unsetWhenBlank(
    z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -base64 32)').optional(),
  ),
  /**
   * Let webhooks reach loopback, private, link-local, unique-local and other non-public addresses:
   * off (the default) refuses them at registration (422) and at connect time, on the resolved
   * address. On only for demos and tests whose receivers run on this machine (`npm start` turns it on).
   */
  WEBHOOK_ALLOW_PRIVATE: onOff('off'),
  /**
   * How long after its event a failing delivery is still retried (e.g. 24h, 90m, 500ms; a plain
   * number is seconds). At most 7d (MAX_WEBHOOK_RETRY_FOR_MS): a delivery is kept 30 days.
   */
  WEBHOOK_RETRY_FOR: duration('24h').refine((ms) => ms <= MAX_WEBHOOK_RETRY_FOR_MS, {
    message:
      'must be at most 7d (a delivery is kept 30 days; it must end, delivered or given up, well before)',
  }),
  /** Wait after the first failed attempt, in ms; doubles after each failure, at most an hour. */
  WEBHOOK_RETRY_FIRST_MS: positiveInt(10_000, 3_600_000),
  /** Longest one delivery attempt may take, in ms: connect, answer and its first bytes together. */
  WEBHOOK_TIMEOUT_MS: positiveInt(10_000, 60_000),
  /** Webhook deliveries one worker process sends at once. */
  WEBHOOK_CONCURRENCY: positiveInt(10, 200),
  /** Endpoints one client may register (409 above). */
  WEBHOOK_MAX_ENDPOINTS_PER_CLIENT: positiveInt(10, 100),
};
