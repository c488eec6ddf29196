import {
  type CallbackStatus,
  type ProviderCatalog,
  RechargeflowError,
  type RechargeProvider,
} from '@rechargeflow/domain';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import {
  type CallbackSpec,
  type CallTiming,
  type ProviderModule,
  providerCallEnvShape,
  type RequestExtension,
  type WorkerLimits,
} from './module.ts';

/** The configuration the clients are built from: the parsed values of `envShape` (and `limitsEnvShape`). */
export interface ProvidersConfig extends RechargeTimeConfig {
  readonly PROVIDER_MAX_RESPONSE_BYTES: number;
  /** Each provider's own variables, and its worker settings where the part reads them. */
  readonly [variable: string]: unknown;
}

/** The part of the providers configuration that decides how long a recharge call may take. */
export interface RechargeTimeConfig {
  readonly PROVIDERS: readonly string[];
  readonly PROVIDER_TIMEOUT_MS: number;
  readonly PROVIDER_CONNECT_TIMEOUT_MS: number;
}

export interface RechargeTimeBound {
  readonly provider: string;
  /** The longest one recharge call of this provider can take, in ms (its module's `worstCaseRechargeMs`). */
  readonly worstCaseMs: number;
}

/** A module that takes callbacks. */
export type CallbackModule = ProviderModule & { readonly callbacks: CallbackSpec };

/** A request extension with the provider that owns it. */
export type OwnedExtension = RequestExtension & { readonly provider: string };

const NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Which providers this installation uses (api, worker, poller). */
function providersInUseShape(names: readonly [string, ...string[]], defaultProvider: string) {
  return {
    /** Providers in use, comma-separated (every name the registry lists). Each needs its credentials. */
    PROVIDERS: z.preprocess(
      (v) =>
        typeof v === 'string' && v.trim() !== ''
          ? v.split(',').map((p) => p.trim().toLowerCase())
          : [defaultProvider],
      z.array(z.enum(names, { error: `each provider must be one of ${names.join(', ')}` })).min(1),
    ),
  };
}
type InUseShape = ReturnType<typeof providersInUseShape>;
type CallShape = typeof providerCallEnvShape;

/**
 * PROVIDERS and the call settings, typed by name. The shape also holds every provider's own
 * variables, which only their modules read (from `ProvidersConfig`): left out of the type, so an
 * app's configuration type names what the app itself reads (an index signature here would make
 * zod type every variable of the app's schema `unknown`).
 */
export type ProvidersEnvShape = InUseShape & CallShape;

/**
 * What the rest of the system reads about the providers, derived from the list of modules. Also a
 * `ProviderCatalog`: the order logic maps stored callbacks' statuses through it.
 */
export function createProviderRegistry(
  modules: readonly ProviderModule[],
  options: { readonly defaultProvider: string },
) {
  checkModules(modules, options.defaultProvider);
  const names = modules.map((m) => m.name) as [string, ...string[]];
  const byName = new Map(modules.map((m) => [m.name, m]));
  const find = (name: string) => byName.get(name.trim().toLowerCase());

  const inUseEnvShape = providersInUseShape(names, options.defaultProvider);
  /** Every variable the providers' clients are built from (worker, poller). */
  const envShape: ProvidersEnvShape = Object.assign(
    { ...inUseEnvShape, ...providerCallEnvShape },
    ...modules.map((m) => m.env),
  );
  /** Every provider's worker settings (worker). */
  const limitsEnvShape: z.ZodRawShape = Object.assign({}, ...modules.map((m) => m.limitsEnv));

  const inUse = (config: { readonly PROVIDERS: readonly string[] }) =>
    modules.filter((m) => config.PROVIDERS.includes(m.name));
  const limitsOf = (module: ProviderModule, config: Readonly<Record<string, unknown>>): WorkerLimits =>
    module.limits(z.object(module.limitsEnv).parse(config));
  const timing = (config: RechargeTimeConfig): CallTiming => ({
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    connectTimeoutMs: config.PROVIDER_CONNECT_TIMEOUT_MS,
  });

  const callbackModules = modules.filter((m): m is CallbackModule => m.callbacks !== undefined);
  const extensions: readonly OwnedExtension[] = modules.flatMap((m) =>
    m.extension ? [{ ...m.extension, provider: m.name }] : [],
  );

  return {
    modules,
    /** Every provider name, in registry order. */
    names,
    defaultProvider: options.defaultProvider,
    /** The module named `name` (any case, surrounding blanks ignored). */
    find,
    inUseEnvShape,
    envShape,
    limitsEnvShape,
    callbackModules,
    extensions,

    /**
     * Credentials each provider in use needs, checked on the raw environment (PROVIDERS defaults to
     * the default provider). Names each missing variable.
     */
    credentialProblems(env: Readonly<Record<string, string | undefined>>): string[] {
      const providers = (env.PROVIDERS?.trim() ? env.PROVIDERS : options.defaultProvider)
        .split(',')
        .map((p) => p.trim().toLowerCase());
      return providers.flatMap((provider) =>
        (find(provider)?.requiredWhenUsed ?? [])
          .filter((name) => !env[name]?.trim())
          .map((name) => `${name}: is required when PROVIDERS includes ${provider}`),
      );
    },

    /** The worker settings of each provider in use, by name, in registry order. */
    workerLimits(config: ProvidersConfig): Map<string, WorkerLimits> {
      return new Map(inUse(config).map((m) => [m.name, limitsOf(m, config)]));
    },

    /**
     * The clients of the providers in use, built from configuration (credentials were checked when
     * it was parsed), in registry order. State a provider shares across processes lives in `redis`
     * under `keyPrefix`.
     */
    createClients(
      config: ProvidersConfig,
      redis: Redis | Cluster,
      keyPrefix: string,
    ): Map<string, RechargeProvider> {
      const call = { ...timing(config), maxResponseBytes: config.PROVIDER_MAX_RESPONSE_BYTES };
      const clients = new Map<string, RechargeProvider>();
      for (const module of inUse(config)) {
        const client = module.createClient(config, {
          call,
          limits: limitsOf(module, config),
          redis,
          keyPrefix,
        });
        clients.set(client.name, client);
      }
      return clients;
    },

    /**
     * The worst-case wall time of one recharge call of each client `createClients` would build from
     * `config`, with the same options: whatever watches for a call that died (the poller's
     * stuck-order sweep) must wait longer than this, or it takes a call still running for a dead one.
     */
    worstCaseRechargeTimes(config: RechargeTimeConfig): RechargeTimeBound[] {
      return inUse(config).map((m) => ({
        provider: m.name,
        worstCaseMs: m.worstCaseRechargeMs(timing(config)),
      }));
    },

    callbackStatus(provider: string, statusText: string): CallbackStatus | undefined {
      return find(provider)?.callbacks?.status(statusText);
    },

    callbackStatusWords(provider: string): string {
      return find(provider)?.callbacks?.statusWords ?? `a status ${provider} sends`;
    },
  } satisfies ProviderCatalog & Record<string, unknown>;
}

export type ProviderRegistry = ReturnType<typeof createProviderRegistry>;

/**
 * A registry that contradicts itself is a programming error: refused when the module is loaded,
 * naming the problem (and a test loads it).
 */
function checkModules(modules: readonly ProviderModule[], defaultProvider: string): void {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const name of Object.keys(providerCallEnvShape)) seen.set(name, 'the call settings');
  seen.set('PROVIDERS', 'the registry');
  const names = new Set<string>();
  for (const module of modules) {
    if (!NAME.test(module.name)) problems.push(`provider name "${module.name}" must match ${NAME}`);
    if (names.has(module.name)) problems.push(`provider "${module.name}" is listed twice`);
    names.add(module.name);
    for (const variable of [...Object.keys(module.env), ...Object.keys(module.limitsEnv)]) {
      const owner = seen.get(variable);
      if (owner !== undefined) problems.push(`${variable} of ${module.name} is also declared by ${owner}`);
      seen.set(variable, module.name);
    }
    for (const variable of module.requiredWhenUsed) {
      if (!(variable in module.env))
        problems.push(`${module.name} requires ${variable}, which its env does not declare`);
    }
  }
  const owners = new Map<string, string>();
  for (const module of modules) {
    const operator = module.extension?.operator;
    if (operator === undefined) continue;
    const other = owners.get(operator);
    if (other !== undefined)
      problems.push(`operator ${operator} is owned by both ${other} and ${module.name}`);
    owners.set(operator, module.name);
  }
  const fallback = modules.find((m) => m.name === defaultProvider);
  if (!fallback) problems.push(`the default provider "${defaultProvider}" is not listed`);
  else if (fallback.extension)
    problems.push(`the default provider "${defaultProvider}" must take catalogue orders`);
  if (problems.length > 0) throw new RechargeflowError(`provider registry: ${problems.join('; ')}`);
}
