import type {
  Order,
  OrderState,
  ProviderCatalog,
  RechargeProvider,
  RechargeRequest,
} from '@rechargeflow/domain';
import type { LedgerStore } from '@rechargeflow/ledger';
import type { JobProducer } from '@rechargeflow/queue';

/** Structured, redacted log sink (pino's shape, without depending on pino). */
export interface OrderLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Hooks for metrics; the apps wire them to prom-client. */
export interface OrderEvents {
  transitioned?(order: Order, from: OrderState): void;
  providerCall?(provider: string, endpoint: string, outcome: string, seconds: number): void;
  callback?(provider: string, outcome: string): void;
  reversal?(provider: string, amountPaise: number): void;
}

export interface OrderDeps {
  readonly ledger: LedgerStore;
  readonly producer: JobProducer;
  readonly log: OrderLog;
  readonly events?: OrderEvents | undefined;
  readonly now?: (() => Date) | undefined;
  /**
   * The providers to try for a new order, in order (the routing table). Default: A1Topup only.
   * Throws ProviderNotEnabledError (domain) when no provider of the order's route is enabled here.
   */
  readonly routeFor?: ((request: RechargeRequest) => readonly string[]) | undefined;
}

/** Which provider may take an order now (circuit breakers, balances), and what happened to calls. */
export interface ProviderGate {
  select(
    route: readonly string[],
    fromIndex: number,
    amount: number,
  ): Promise<
    | { readonly provider: string; readonly index: number }
    | { readonly provider: null; readonly reason: string }
  >;
  /** `failure`: the provider did not work (unreachable, ambiguous); a definite refusal is a `success`. */
  record(provider: string, outcome: 'success' | 'failure'): Promise<void>;
}

/** No breakers, no balances: the order's own provider, always. */
export const OPEN_GATE: ProviderGate = {
  select: async (route, fromIndex) => {
    const provider = route[fromIndex];
    return provider === undefined
      ? { provider: null, reason: 'no provider left in the route' }
      : { provider, index: fromIndex };
  },
  record: async () => undefined,
};

/**
 * What is known of every provider without calling it: the provider registry
 * (`providerRegistry` of `@rechargeflow/providers`), which the apps pass in. Stored callbacks are
 * read through it, whatever provider sent them, configured here or not.
 */
export interface CatalogDeps {
  readonly providerCatalog: ProviderCatalog;
}

export interface WorkerDeps extends OrderDeps {
  readonly providers: ReadonlyMap<string, RechargeProvider>;
  readonly gate?: ProviderGate | undefined;
  /**
   * Delay before the first status check of an order that becomes pending: the status-check
   * schedule's first step (`statusCheckTimes` of `@rechargeflow/config`, from STATUS_POLL_SCHEDULE),
   * passed in by the part, never assumed here.
   */
  readonly firstCheckAfterMs: number;
  /**
   * ORDER_MAX_WAIT: how long an order that provably was not sent (no provider of its route may take
   * it, or its call never left) waits for one before it fails as never sent. 0 or absent: no wait,
   * such an order fails once its job's attempts are spent.
   */
  readonly orderMaxWaitMs?: number | undefined;
}

let lastNowMs = -1;
let lastNowIso = '';

export function nowIso(deps: { now?: (() => Date) | undefined }): string {
  if (deps.now) return deps.now().toISOString();
  // Formatted once per millisecond: every step of every job asks, many within the same one.
  const ms = Date.now();
  if (ms !== lastNowMs) {
    lastNowMs = ms;
    lastNowIso = new Date(ms).toISOString();
  }
  return lastNowIso;
}
