import type { Order, OrderState } from '@rechargeflow/domain';
import type { LedgerStore } from '@rechargeflow/ledger';
import type { RechargeProvider } from '@rechargeflow/providers';
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
}

export interface WorkerDeps extends OrderDeps {
  readonly providers: ReadonlyMap<string, RechargeProvider>;
  /** Delay before the first status check of an order that becomes pending (default 30 s). */
  readonly firstCheckAfterMs?: number | undefined;
}

export function nowIso(deps: { now?: (() => Date) | undefined }): string {
  return (deps.now?.() ?? new Date()).toISOString();
}
