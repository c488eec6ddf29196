import { createHash } from 'node:crypto';
import { TELGOO5_AMOUNT_BOUNDS, TELGOO5_OPERATOR } from '@rechargeflow/domain';
import { z } from 'zod';
import { optionalText, type ProviderModule, text, workerLimitsEnv, workerLimitsOf } from '../module.ts';
import { createTelgoo5Provider } from './client.ts';
import {
  TELGOO5_PAYMENT_METHODS,
  TELGOO5_SOURCES,
  type Telgoo5PaymentMethod,
  type Telgoo5Source,
} from './options.ts';
import { createRedisTokenLease } from './token-lease.ts';
import { worstCaseRechargeMs } from './worst-case.ts';

const blank = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** Telgoo5/VCare: where it is and the credentials issued by its account manager. */
const env = {
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
    z.enum(TELGOO5_SOURCES, { error: 'must be WEBSITE, API or TABLET' }).default('API'),
  ),
  /** `payment_method` sent with add_topup (processing fee basis). */
  TELGOO5_PAYMENT_METHOD: z.preprocess(
    blank,
    z
      .enum(TELGOO5_PAYMENT_METHODS, {
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

/**
 * Telgoo5/VCare (US MVNO back office): `add_topup` with single-use tokens, no status API, no
 * balance API, no callbacks. It takes TELGOO5 orders only, and only it can: they carry the
 * `telgoo5` extension (enrollment, plan, saved-payment tokens) the domain validates.
 */
export const telgoo5Module: ProviderModule = {
  name: 'telgoo5',
  title: 'Telgoo5/VCare (US MVNO back office)',
  env,
  requiredWhenUsed: [
    'TELGOO5_VENDOR_ID',
    'TELGOO5_USERNAME',
    'TELGOO5_PASSWORD',
    'TELGOO5_PIN',
    'TELGOO5_AGENT_ID',
  ],
  limitsEnv: workerLimitsEnv('TELGOO5', { concurrency: 10 }),
  limits: (values) => workerLimitsOf('TELGOO5', values),
  /**
   * The single-use tokens live in Redis under `<keyPrefix>:{telgoo5:tokens}`, shared by every
   * process and sealed with a key derived from the Telgoo5 credentials, so a Redis dump holds no
   * usable token. The hash tag keeps the pool's keys in one slot of a Redis Cluster.
   */
  createClient: (values, context) => {
    const secret = createHash('sha256')
      .update(`${values.TELGOO5_VENDOR_ID}\u0000${values.TELGOO5_PASSWORD}\u0000${values.TELGOO5_PIN}`)
      .digest('hex');
    const tokens = createRedisTokenLease({
      redis: context.redis,
      key: `${context.keyPrefix}:{telgoo5:tokens}`,
      encryptionKey: secret,
    });
    return createTelgoo5Provider({
      ...context.call,
      baseUrl: text(values, 'TELGOO5_BASE_URL'),
      vendorId: text(values, 'TELGOO5_VENDOR_ID'),
      username: text(values, 'TELGOO5_USERNAME'),
      password: text(values, 'TELGOO5_PASSWORD'),
      pin: text(values, 'TELGOO5_PIN'),
      agentId: text(values, 'TELGOO5_AGENT_ID'),
      source: values.TELGOO5_SOURCE as Telgoo5Source,
      paymentMethod: values.TELGOO5_PAYMENT_METHOD as Telgoo5PaymentMethod,
      tokenHeader: text(values, 'TELGOO5_TOKEN_HEADER'),
      rechargeKeepAliveMs: context.limits.rechargeKeepAliveMs,
      tokens,
    });
  },
  worstCaseRechargeMs,
  extension: { operator: TELGOO5_OPERATOR, field: 'telgoo5', amountBounds: TELGOO5_AMOUNT_BOUNDS },
};
