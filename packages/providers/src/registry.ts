import { a1topupProtocolModule } from './a1topup/module.ts';
import { createProviderRegistry } from './provider-registry.ts';
import { telgoo5Module } from './telgoo5/module.ts';

/**
 * Every provider Rechargeflow can talk to: one module each (see `module.ts`). Config (PROVIDERS,
 * variables, credentials), the worker's limits, the clients, the poller's stuck-call bound, the
 * routing table, the callback route and callback application all read this list.
 *
 * Adding a provider (docs/providers.md, "Adding a provider"):
 * - one more speaking the A1Topup API: one line below, `a1topupProtocolModule({ name, envPrefix, … })`;
 * - another API: a folder beside `a1topup/` and `telgoo5/` exporting a `ProviderModule`, and its line.
 */
export const PROVIDER_MODULES = [
  a1topupProtocolModule({
    name: 'a1topup',
    envPrefix: 'A1TOPUP',
    title: 'A1Topup',
    defaultBaseUrl: 'http://127.0.0.1:4010',
    urlExample: 'https://business.a1topup.com',
    credentialsAlwaysRequired: true,
  }),
  // A second account or another aggregator speaking the A1Topup API: the failover target.
  a1topupProtocolModule({
    name: 'a1topup_backup',
    envPrefix: 'A1TOPUP_BACKUP',
    title: 'Backup A1Topup-protocol provider',
    urlExample: 'https://api.example.com',
  }),
  telgoo5Module,
];

/** The provider registry of this build. `a1topup` is used when PROVIDERS is unset, and takes what no rule routes. */
export const providerRegistry = createProviderRegistry(PROVIDER_MODULES, { defaultProvider: 'a1topup' });

/** Every provider name, in registry order. */
export const PROVIDER_NAMES = providerRegistry.names;
/** PROVIDERS (api, worker, poller). */
export const providersInUseEnvShape = providerRegistry.inUseEnvShape;
/** PROVIDERS, the call settings and every provider's own variables (worker, poller). */
export const providersEnvShape = providerRegistry.envShape;
/** Every provider's worker settings: concurrency, rate limit, recharge keep-alive (worker). */
export const providerLimitsEnvShape = providerRegistry.limitsEnvShape;
/** Missing credentials of the providers in use, named (a cross check of parseEnv). */
export const providerCredentialProblems = providerRegistry.credentialProblems;
