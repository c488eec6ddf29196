import { z } from 'zod';
import { optionalText, type ProviderModule, text, workerLimitsEnv, workerLimitsOf } from '../module.ts';
import { createA1TopupProvider } from './client.ts';
import { A1TOPUP_FORMATS, type A1TopupFormat } from './options.ts';
import { mapStatus } from './parse.ts';
import { worstCaseRechargeMs } from './worst-case.ts';

export interface A1TopupProtocolSettings {
  /** The provider's name (`a1topup`, `a1topup_backup`, …). */
  readonly name: string;
  /** Prefix of its variables: `<P>_BASE_URL`, `<P>_USERNAME`, … (`A1TOPUP`, `A1TOPUP_BACKUP`). */
  readonly envPrefix: string;
  /** What it is, in a few words. */
  readonly title: string;
  /**
   * Default of `<P>_BASE_URL` (the simulator on this machine). Without one the URL is required
   * when PROVIDERS includes the provider.
   */
  readonly defaultBaseUrl?: string | undefined;
  /** The example in the message for a bad `<P>_BASE_URL`. */
  readonly urlExample: string;
  /**
   * `<P>_USERNAME` and `<P>_PASSWORD` required by the worker and the poller whatever PROVIDERS
   * says (the main A1Topup account, as the configuration always asked); otherwise only when
   * PROVIDERS includes the provider.
   */
  readonly credentialsAlwaysRequired?: boolean | undefined;
  /** `<P>_CONCURRENCY` when unset. */
  readonly defaultConcurrency?: number | undefined;
}

/** A1Topup's default for `<P>_RECHARGE_KEEP_ALIVE_MS` (docs/providers.md#provider-connections). */
const A1TOPUP_RECHARGE_KEEP_ALIVE_MS = 1_000;

const blank = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** A required text variable of an always-required account: `what` names it in the message. */
function requiredText(what: string) {
  return z.string({ error: `is required (${what})` }).min(1, `is required (${what})`);
}

/**
 * A provider speaking the A1Topup API (recharge, status, balance, callbacks), under its own name
 * and variable prefix: A1Topup itself, a second account or another aggregator with the same API.
 * One call of this function in the registry adds such a provider.
 */
export function a1topupProtocolModule(settings: A1TopupProtocolSettings): ProviderModule {
  const p = settings.envPrefix;
  const always = settings.credentialsAlwaysRequired === true;
  const env = {
    /**
     * Base URL of the provider's API (paths /recharge/api, /recharge/status, /recharge/balance).
     * Default: the simulator on this machine for A1Topup; none (required when used) for the others.
     */
    [`${p}_BASE_URL`]: z.preprocess(
      blank,
      settings.defaultBaseUrl === undefined
        ? z.url({ error: `must be a URL such as ${settings.urlExample}` }).optional()
        : z.url({ error: `must be a URL such as ${settings.urlExample}` }).default(settings.defaultBaseUrl),
    ),
    /** Account user name. */
    [`${p}_USERNAME`]: always ? requiredText('the A1Topup account user name') : optionalText(),
    /** Account password; sent only in POST bodies, never logged. */
    [`${p}_PASSWORD`]: always ? requiredText('the A1Topup account password') : optionalText(),
    /** Answer format asked of the provider: json, csv or xml (all three are parsed). */
    [`${p}_FORMAT`]: z.preprocess(
      blank,
      z.enum(A1TOPUP_FORMATS, { error: 'must be json, csv or xml' }).default('json'),
    ),
  };
  return {
    name: settings.name,
    title: settings.title,
    env,
    requiredWhenUsed: [
      ...(settings.defaultBaseUrl === undefined ? [`${p}_BASE_URL`] : []),
      `${p}_USERNAME`,
      `${p}_PASSWORD`,
    ],
    // Recharges reuse a connection idle at most 1 s (RECHARGE_KEEP_ALIVE_MS): far below any web
    // server's idle timeout, and A1Topup has a status API, so the rare recharge a closing
    // connection makes ambiguous is settled by the status check, never sent again.
    limitsEnv: workerLimitsEnv(p, {
      concurrency: settings.defaultConcurrency ?? 20,
      rechargeKeepAliveMs: A1TOPUP_RECHARGE_KEEP_ALIVE_MS,
    }),
    limits: (values) => workerLimitsOf(p, values),
    createClient: (values, context) =>
      createA1TopupProvider({
        ...context.call,
        name: settings.name,
        baseUrl: text(values, `${p}_BASE_URL`),
        username: text(values, `${p}_USERNAME`),
        password: text(values, `${p}_PASSWORD`),
        format: values[`${p}_FORMAT`] as A1TopupFormat,
        rechargeKeepAliveMs: context.limits.rechargeKeepAliveMs,
      }),
    worstCaseRechargeMs,
    callbacks: {
      summary: `${settings.title} callback (late results, dispute reversals)`,
      parameters: { providerOrderId: 'txid', status: 'status', providerRef: 'opid' },
      needs: 'txid (our order id) and status (Success or Failure)',
      status: (statusText) => mapStatus(statusText),
      statusWords: 'Success, Failure or Pending',
    },
  };
}
