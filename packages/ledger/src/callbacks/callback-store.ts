/** What a callback said, before it is applied. */
export interface CallbackInput {
  readonly provider: string;
  /** The provider's `txid` parameter: our providerOrderId. */
  readonly providerOrderId: string;
  /** Raw status text as received (e.g. `Success`, `Failure`). */
  readonly status: string;
  /** The provider's `opid`, when given. */
  readonly providerRef?: string | undefined;
  /** ISO time received. */
  readonly receivedAt: string;
  /** The parameters as received, token removed (for operators). */
  readonly raw: string;
}

export const CALLBACK_OUTCOMES = [
  /** Stored; not applied yet. */
  'received',
  /** Caused a transition. */
  'applied',
  /** The order was already in the state the callback reports (or later). */
  'no_change',
  /** No order has this providerOrderId: kept for an operator. */
  'unknown_order',
  /** A reversal the status API did not confirm: not applied, kept for an operator. */
  'reversal_not_confirmed',
  /** A status text we do not understand, or a transition the state machine forbids. */
  'ignored',
  /**
   * A settlement the status API did not confirm within the confirm window: not applied (the
   * order's own status checks go on), kept for an operator.
   */
  'not_confirmed',
  /**
   * Contradicts the ledger and could not move the order (a charge reported for an earlier attempt
   * of an order that is already `success`): recorded in its history, kept for an operator.
   */
  'conflict',
] as const;
export type CallbackOutcome = (typeof CALLBACK_OUTCOMES)[number];

export interface CallbackRecord extends CallbackInput {
  /** Deterministic: sha256 of provider, providerOrderId, normalised status and providerRef. */
  readonly id: string;
  readonly outcome: CallbackOutcome;
  /** Copies received (duplicates increment this, nothing else). */
  readonly copies: number;
  readonly note?: string | undefined;
  readonly updatedAt: string;
}

/** Provider callbacks, stored once each (deduplicated by id) before they are applied to orders. */
export interface CallbackStore {
  /**
   * Stores a callback once (by its deterministic id, see `callbackId`): a new one with outcome
   * `received`, `copies` 1 and `updatedAt` = `receivedAt`; a repeat only increments `copies` (the
   * first copy's status text, raw and times are kept) and answers `isNew: false`.
   */
  recordCallback(input: CallbackInput): Promise<{ readonly record: CallbackRecord; readonly isNew: boolean }>;
  /**
   * Sets the outcome, the note (`undefined` removes an earlier one) and `updatedAt` = `at`.
   * Rejects with `RangeError` for an id no callback has, or an outcome not in CALLBACK_OUTCOMES.
   */
  setCallbackOutcome(
    id: string,
    outcome: CallbackOutcome,
    note: string | undefined,
    at: string,
  ): Promise<void>;
  getCallback(id: string): Promise<CallbackRecord | null>;
  /**
   * Callbacks with `outcome`, last changed before `updatedBefore` (ISO, exclusive), oldest change
   * first (then by id), at most `limit` (1..1000).
   */
  findCallbacks(
    outcome: CallbackOutcome,
    updatedBefore: string,
    limit: number,
  ): Promise<readonly CallbackRecord[]>;
}
