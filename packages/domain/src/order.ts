import { createHash } from 'node:crypto';
import type { Paise } from './amount.ts';
import type { OrderState, TransitionSource } from './order-state.ts';

/** Identifies an order: an order id is unique per API client (PRODUCT.md rule 1). */
export interface OrderKey {
  readonly clientId: string;
  readonly orderId: string;
}

/** A validated recharge request: what the client asked for, normalised. */
export interface RechargeRequest {
  /** Operator code from the catalogue, upper case (e.g. `A`, `ATV`, `MSEDCL`). */
  readonly operator: string;
  /** Circle code from the circle table, when given. */
  readonly circle?: string | undefined;
  /** Mobile number, DTH id, account or consumer number, depending on the operator's service. */
  readonly number: string;
  readonly amount: Paise;
  readonly value1?: string | undefined;
  readonly value2?: string | undefined;
  /** Telgoo5 orders only (operator `TELGOO5`): what add_topup needs besides MDN and amount. */
  readonly telgoo5?: Telgoo5Order | undefined;
}

/**
 * A Telgoo5 top-up. Payment is always a saved payment profile token: raw card data is refused at
 * the door and never stored.
 */
export interface Telgoo5Order {
  readonly enrollmentId: string;
  readonly planCode?: string | undefined;
  readonly planId?: string | undefined;
  readonly topupType: 'ADDON' | 'ILD' | 'DATA' | 'TOPUP';
  readonly paymentToken?: string | undefined;
  readonly customerToken?: string | undefined;
  readonly billingState: string;
  readonly billingCity: string;
  readonly billingZip?: string | undefined;
  readonly billingAddress1?: string | undefined;
  readonly billingAddress2?: string | undefined;
}

/** One line of an order's history: appended on every transition and every send attempt. */
export interface HistoryEntry {
  /** ISO-8601 time the entry was written. */
  readonly at: string;
  /** State before; `null` for the entry that created the order. */
  readonly from: OrderState | null;
  /** State after (equal to `from` for an event that is not a state change, e.g. an attempt). */
  readonly to: OrderState;
  readonly source: TransitionSource;
  /** What happened, in words (e.g. `sent to a1topup`, `provider unreachable, not sent`). */
  readonly note?: string | undefined;
  /** The provider's raw status text, when a provider answer caused this entry. */
  readonly providerStatus?: string | undefined;
  /** Who did it, for operator decisions. */
  readonly actor?: string | undefined;
}

/** A dispute reversal reported by the provider and confirmed, money back in the provider balance. */
export interface Reversal {
  readonly amount: Paise;
  /** When it was applied (ISO). */
  readonly at: string;
  /** The provider's operator reference from the reversal callback. */
  readonly providerRef?: string | undefined;
  /** The stored callback that caused it. */
  readonly callbackId?: string | undefined;
}

export interface Order extends OrderKey {
  /** The orderid sent to the provider: unique across clients, derived from the key. */
  readonly providerOrderId: string;
  /** Provider the order is with now (e.g. `a1topup`); changes only on failover. */
  readonly provider: string;
  /**
   * Providers to try, in order, fixed when the order was accepted (from the routing table). The
   * order fails over to the next one only after a definite failure, never after an ambiguous one.
   */
  readonly route: readonly string[];
  readonly request: RechargeRequest;
  /** sha256 of the canonical request: the same id with a different body is refused (409). */
  readonly fingerprint: string;
  readonly state: OrderState;
  /**
   * True from the moment a provider call may start until its outcome is recorded. A job that finds
   * its order `processing` with `inFlight` set was interrupted mid-call: it must not call again.
   */
  readonly inFlight: boolean;
  /** Number of provider calls started for this order. */
  readonly attempts: number;
  /** The provider's transaction id (A1Topup `txid`), once known. */
  readonly providerTxId?: string | undefined;
  /** The operator reference (A1Topup `opid`), once known. */
  readonly providerRef?: string | undefined;
  /** The provider's last raw status text. */
  readonly providerStatus?: string | undefined;
  /** When the order last entered `pending` (ISO); the max-age clock for manual review. */
  readonly pendingSince?: string | undefined;
  /** Next time the status poller may check this order (ISO, store clock); set only while pending. */
  readonly nextCheckAt?: string | undefined;
  /** Status checks made so far while pending. */
  readonly statusChecks: number;
  /** The dispute reversal, once the provider reversed a successful order. */
  readonly reversal?: Reversal | undefined;
  /** Batch the order came from, if any. */
  readonly batchId?: string | undefined;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Increments on every change; lets stores and callers detect lost updates. */
  readonly version: number;
  readonly history: readonly HistoryEntry[];
}

/** Stable sha256 of the request fields that define "the same order". */
export function requestFingerprint(request: RechargeRequest): string {
  const canonical = JSON.stringify([
    request.operator,
    request.circle ?? null,
    request.number,
    request.amount,
    request.value1 ?? null,
    request.value2 ?? null,
    ...(request.telgoo5 ? [Object.entries(request.telgoo5).sort(([a], [b]) => a.localeCompare(b))] : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * A short, stable id for an order key, used for the BullMQ job id and storage keys.
 * Hashing keeps arbitrary client and order ids out of key syntax (no `:` in job ids).
 */
export function orderKeyId(key: OrderKey): string {
  return createHash('sha256').update(`${key.clientId}\u0000${key.orderId}`).digest('hex').slice(0, 32);
}

/**
 * The orderid sent to a provider for attempt `attempt` (1-based, one per provider tried).
 * Deterministic, so a retry of a provably unsent call reuses it; different clients never collide
 * in practice (96 bits), and the ledger's unique index on it turns a collision into a refusal.
 */
export function providerOrderId(key: OrderKey, attempt = 1): string {
  const digest = createHash('sha256')
    .update(`${key.clientId}\u0000${key.orderId}\u0000${attempt}`)
    .digest('hex')
    .slice(0, 24)
    .toUpperCase();
  return `RF${digest}`;
}

/** `98******10`: enough for a person to recognise, never the full number (logs, metrics, notes). */
export function maskNumber(value: string): string {
  if (value.length <= 4) return '*'.repeat(value.length);
  return `${value.slice(0, 2)}${'*'.repeat(value.length - 4)}${value.slice(-2)}`;
}

/** Client and order ids: what the API accepts (safe in URLs, CSV cells and log lines). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
