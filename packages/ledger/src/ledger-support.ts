import { createHash } from 'node:crypto';
import {
  assertTransition,
  type HistoryEntry,
  type OrderKey,
  type OrderState,
  orderKeyId,
  paise,
  type Reversal,
  ValidationError,
} from '@rechargeflow/domain';
import {
  type AmountCount,
  type BalanceSample,
  CALLBACK_OUTCOMES,
  type CallbackInput,
  type CallbackOutcome,
  type ClaimChecksOptions,
  type ListOrdersQuery,
  type ProviderSummary,
  type TransitionCommand,
} from './ledger-store.ts';

/** Helpers shared by both implementations, so that they agree on ordering, paging and history. */

export const MAX_LIST_LIMIT = 500;
export const MAX_STALE_LIMIT = 1_000;
export const MAX_CLAIM_LIMIT = 1_000;
export const MAX_CALLBACK_LIMIT = 1_000;

/** Epoch milliseconds of a caller-supplied ISO time; refuses anything that is not a time. */
export function timeMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${what} is not an ISO time: ${JSON.stringify(iso)}`);
  return ms;
}

/**
 * The sort key of an order in its client's list: creation time, then the key id as a tie-break.
 * Fixed width, so byte order is time order; unique, so a cursor on it never skips or repeats.
 */
export function listKey(key: OrderKey, createdAt: string): string {
  return `${timePrefix(timeMs(createdAt, 'createdAt'))}${orderKeyId(key)}`;
}

/** The fixed-width time part of a list key, up to and including its `:`. */
function timePrefix(ms: number): string {
  return `${String(ms).padStart(15, '0')}:`;
}

/**
 * List-key bounds of orders created in [from, to): `lower <= listKey < upper`. Every list key
 * starts with its creation time, so this is the creation-time window, to the millisecond.
 */
export function createdWindow(from: string, to: string): { lower: string; upper: string } {
  return { lower: timePrefix(timeMs(from, 'from')), upper: timePrefix(timeMs(to, 'to')) };
}

const LIST_KEY_PATTERN = /^\d{15}:[0-9a-f]{32}$/;

export function encodeCursor(lastListKey: string): string {
  return Buffer.from(lastListKey, 'utf8').toString('base64url');
}

/** The list key the next page starts strictly after; a cursor that is not ours is a 400. */
export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!LIST_KEY_PATTERN.test(decoded)) {
    throw new ValidationError([
      {
        field: 'cursor',
        rule: 'cursor',
        message: 'is not a cursor from a previous page; start again without it',
      },
    ]);
  }
  return decoded;
}

export function validateListQuery(query: ListOrdersQuery): { limit: number; after: string | undefined } {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError([
      { field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` },
    ]);
  }
  return { limit, after: query.cursor === undefined ? undefined : decodeCursor(query.cursor) };
}

export function validateStaleLimit(limit: number): number {
  return validateLimit(limit, MAX_STALE_LIMIT, 'findStale');
}

function validateLimit(limit: number, max: number, what: string): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new RangeError(`${what} limit must be a whole number from 1 to ${max}, got ${limit}`);
  }
  return limit;
}

/** A whole number of milliseconds (callers compute them from seconds, which may not be whole). */
function milliseconds(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.round(value) < min) {
    throw new RangeError(`${what} must be a number of milliseconds >= ${min}, got ${String(value)}`);
  }
  return Math.round(value);
}

export function validateClaimOptions(options: ClaimChecksOptions): { limit: number; intervals: number[] } {
  const limit = validateLimit(options.limit, MAX_CLAIM_LIMIT, 'claimDueChecks');
  if (!Array.isArray(options.intervalsMs) || options.intervalsMs.length === 0) {
    throw new RangeError('claimDueChecks intervalsMs must hold at least one interval');
  }
  // At least 1 ms: a zero interval would let the next claim hand the same order out again at once.
  const intervals = options.intervalsMs.map((ms) => milliseconds(ms, 'claimDueChecks interval', 1));
  return { limit, intervals };
}

export function validateCallbackLimit(limit: number): number {
  return validateLimit(limit, MAX_CALLBACK_LIMIT, 'findCallbacks');
}

export function isCallbackOutcome(value: unknown): value is CallbackOutcome {
  return typeof value === 'string' && (CALLBACK_OUTCOMES as readonly string[]).includes(value);
}

export function validateOutcome(outcome: CallbackOutcome): CallbackOutcome {
  if (!isCallbackOutcome(outcome)) {
    throw new RangeError(`not a callback outcome: ${JSON.stringify(outcome)}`);
  }
  return outcome;
}

/** Status text as compared for duplicates: `Success`, ` success ` and `SUCCESS` are one status. */
export function normaliseCallbackStatus(status: string): string {
  return status.trim().toLowerCase();
}

/**
 * A callback's id: the same report (provider, order, status, operator ref) always gets the same id,
 * so a provider's retries and replays are recognised as copies.
 */
export function callbackId(
  input: Pick<CallbackInput, 'provider' | 'providerOrderId' | 'status' | 'providerRef'>,
): string {
  return createHash('sha256')
    .update(
      [
        input.provider,
        input.providerOrderId,
        normaliseCallbackStatus(input.status),
        input.providerRef ?? '',
      ].join('\u0000'),
    )
    .digest('hex');
}

export function validateCallbackInput(input: CallbackInput): void {
  for (const field of ['provider', 'providerOrderId', 'status', 'raw'] as const) {
    if (typeof input[field] !== 'string') throw new RangeError(`callback ${field} must be a string`);
  }
  if (input.providerRef !== undefined && typeof input.providerRef !== 'string') {
    throw new RangeError('callback providerRef must be a string');
  }
  timeMs(input.receivedAt, 'receivedAt');
}

export function validateBalanceSample(sample: BalanceSample): number {
  if (typeof sample.provider !== 'string' || sample.provider === '') {
    throw new RangeError('balance sample provider must be a non-empty string');
  }
  // A provider may extend credit, so a balance below zero is a fact to record, not an error.
  if (!Number.isSafeInteger(sample.balance)) {
    throw new RangeError(`balance sample balance must be a whole number of paise, got ${sample.balance}`);
  }
  return timeMs(sample.at, 'at');
}

/**
 * What a transition does to the status-check schedule. `from` is exact (the store applies the
 * command only in that state), so this can be decided before the write.
 * - `enter`: into pending from another state; pendingSince = now, first check after checkAfterMs (0: at once)
 * - `reschedule`: a pending -> pending event with checkAfterMs: the next check moves, pendingSince stays
 * - `leave`: out of pending: no more checks
 */
export type ScheduleChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'enter' | 'reschedule'; readonly afterMs: number }
  | { readonly kind: 'leave' };

export function scheduleChange(command: TransitionCommand): ScheduleChange {
  const from = command.expect.state;
  const after = command.patch?.checkAfterMs;
  if (command.to === 'pending') {
    if (from !== 'pending') return { kind: 'enter', afterMs: Math.round(after ?? 0) };
    return after === undefined ? { kind: 'none' } : { kind: 'reschedule', afterMs: Math.round(after) };
  }
  return from === 'pending' ? { kind: 'leave' } : { kind: 'none' };
}

/** A reversal with a fixed field order and no `undefined` fields, identical in both stores. */
export function reversalRecord(reversal: Reversal): Reversal {
  const result: { -readonly [K in keyof Reversal]: Reversal[K] } = {
    amount: reversal.amount,
    at: reversal.at,
  };
  if (reversal.providerRef !== undefined) result.providerRef = reversal.providerRef;
  if (reversal.callbackId !== undefined) result.callbackId = reversal.callbackId;
  return result;
}

type SummaryBucket = Exclude<keyof ProviderSummary, 'provider'>;

/** The bucket an order's state counts in, besides `submitted`. */
const BUCKET_OF_STATE: Readonly<Record<OrderState, SummaryBucket>> = {
  queued: 'inProgress',
  processing: 'inProgress',
  success: 'success',
  failed: 'failed',
  reversed: 'reversed',
  pending: 'pending',
  manual_review: 'pending',
};

/**
 * Folds (provider, state, count, amount) rows into per-provider summaries, sorted by provider, so
 * both stores categorise states in one place.
 */
export class SummaryBuilder {
  readonly #byProvider = new Map<string, Record<SummaryBucket, { count: number; amount: number }>>();

  add(provider: string, state: OrderState, count: number, amount: number): void {
    let summary = this.#byProvider.get(provider);
    if (summary === undefined) {
      summary = {
        submitted: { count: 0, amount: 0 },
        success: { count: 0, amount: 0 },
        failed: { count: 0, amount: 0 },
        reversed: { count: 0, amount: 0 },
        pending: { count: 0, amount: 0 },
        inProgress: { count: 0, amount: 0 },
      };
      this.#byProvider.set(provider, summary);
    }
    for (const bucket of ['submitted', BUCKET_OF_STATE[state]] as const) {
      summary[bucket].count += count;
      summary[bucket].amount += amount;
    }
  }

  build(): ProviderSummary[] {
    const total = (value: { count: number; amount: number }): AmountCount => ({
      count: value.count,
      amount: paise(value.amount),
    });
    return [...this.#byProvider.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([provider, b]) => ({
        provider,
        submitted: total(b.submitted),
        success: total(b.success),
        failed: total(b.failed),
        reversed: total(b.reversed),
        pending: total(b.pending),
        inProgress: total(b.inProgress),
      }));
  }
}

/**
 * Refuses an illegal transition before anything is written. `to === expect.state` is an event
 * (e.g. a send attempt), not a state change, and is always allowed.
 */
export function assertCommand(command: TransitionCommand): void {
  if (command.to !== command.expect.state) assertTransition(command.expect.state, command.to);
  timeMs(command.entry.at, 'entry.at');
  const { checkAfterMs, reversal, switchProvider } = command.patch ?? {};
  if (switchProvider !== undefined) assertSwitch(command, switchProvider);
  if (checkAfterMs !== undefined) {
    // Refused rather than ignored: a schedule asked for elsewhere would silently never run.
    if (command.to !== 'pending')
      throw new RangeError(`checkAfterMs only goes with a move to pending, not to ${command.to}`);
    milliseconds(checkAfterMs, 'checkAfterMs', 0);
  }
  if (reversal !== undefined) {
    if (command.to !== 'reversed')
      throw new RangeError(`a reversal only goes with a move to reversed, not to ${command.to}`);
    if (!Number.isSafeInteger(reversal.amount) || reversal.amount < 0) {
      throw new RangeError(`reversal amount must be a whole number of paise, got ${reversal.amount}`);
    }
    timeMs(reversal.at, 'reversal.at');
  }
}

/**
 * Failover only between provider calls: a same-state `processing` event that either requires no
 * call in flight, or records in the same write that the call in flight has ended (a definite
 * refusal: `expect.inFlight: true` with `patch.inFlight: false`), so an order never moves away from
 * a provider that may still be carrying out its call, and a crash cannot separate "refused" from
 * "moved on".
 * Whether the provider is in the route is checked by the store, against the stored route.
 */
function assertSwitch(
  command: TransitionCommand,
  target: NonNullable<NonNullable<TransitionCommand['patch']>['switchProvider']>,
): void {
  if (command.expect.state !== 'processing' || command.to !== 'processing') {
    throw new RangeError(
      `switchProvider only goes with a processing -> processing event, not ${command.expect.state} -> ${command.to}`,
    );
  }
  const callEnded = command.expect.inFlight === true && command.patch?.inFlight === false;
  if (command.expect.inFlight !== false && !callEnded) {
    throw new RangeError(
      'switchProvider needs the expectation inFlight: false, or inFlight: true with patch inFlight: false (the call ended)',
    );
  }
  for (const field of ['provider', 'providerOrderId'] as const) {
    if (typeof target[field] !== 'string' || target[field] === '') {
      throw new RangeError(`switchProvider.${field} must be a non-empty string`);
    }
  }
}

/** A history entry with a fixed field order and no `undefined` fields, identical in both stores. */
export function historyEntry(
  from: OrderState | null,
  to: OrderState,
  entry: TransitionCommand['entry'],
): HistoryEntry {
  const result: { -readonly [K in keyof HistoryEntry]: HistoryEntry[K] } = {
    at: entry.at,
    from,
    to,
    source: entry.source,
  };
  if (entry.note !== undefined) result.note = entry.note;
  if (entry.providerStatus !== undefined) result.providerStatus = entry.providerStatus;
  if (entry.actor !== undefined) result.actor = entry.actor;
  return result;
}

/** The entry written with every new order. */
export function creationEntry(now: string): HistoryEntry {
  return historyEntry(null, 'queued', { at: now, source: 'api', note: 'order accepted' });
}
