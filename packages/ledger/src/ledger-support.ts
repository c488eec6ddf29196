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
  BATCH_STATES,
  type BatchPatch,
  type BatchState,
  type NewBatch,
  type RowResult,
  type UploadLease,
} from './batch-store.ts';
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
  return listKeyOf(orderKeyId(key), timeMs(createdAt, 'createdAt'));
}

/** `listKey` from an already computed key id and creation time (bulk creation hashes each key once). */
export function listKeyOf(keyId: string, createdAtMs: number): string {
  return `${timePrefix(createdAtMs)}${keyId}`;
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

/** A stale-scan position: the last order's change time and its tie-breaker in the store's order. */
export interface StalePosition {
  readonly ms: number;
  readonly tie: string;
}

const STALE_CURSOR_PATTERN = /^s:(\d{1,15}):(.{1,512})$/s;

export function encodeStaleCursor(position: StalePosition): string {
  return Buffer.from(`s:${position.ms}:${position.tie}`, 'utf8').toString('base64url');
}

/** The position the next page starts strictly after; a cursor that is not ours is refused. */
export function decodeStaleCursor(cursor: string): StalePosition {
  const match = STALE_CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw new ValidationError([
      {
        field: 'cursor',
        rule: 'cursor',
        message: 'is not a cursor from a previous page; start again without it',
      },
    ]);
  }
  return { ms: Number(match[1]), tie: match[2]! };
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
  if (command.expect.state === 'pending' && command.to === 'processing' && !command.patch?.switchProvider) {
    // pending -> processing exists only as a failover: the attempt that went pending is never resent.
    throw new RangeError('pending -> processing only goes with switchProvider (a failover)');
  }
  if (command.expect.providerOrderId !== undefined && command.expect.providerOrderId === '') {
    throw new RangeError('expect.providerOrderId must be a non-empty string when given');
  }
  timeMs(command.entry.at, 'entry.at');
  const { checkAfterMs, reversal, switchProvider } = command.patch ?? {};
  if (switchProvider !== undefined) assertSwitch(command, switchProvider);
  const book = command.patch?.bookAttempt;
  if (book !== undefined) {
    if (switchProvider !== undefined)
      throw new RangeError('bookAttempt and switchProvider do not go together');
    if (
      command.to !== 'success' ||
      (command.expect.state !== 'manual_review' && command.expect.state !== 'failed')
    ) {
      throw new RangeError(
        `bookAttempt only goes with manual_review -> success or failed -> success, not ${command.expect.state} -> ${command.to}`,
      );
    }
    for (const field of ['provider', 'providerOrderId'] as const) {
      if (typeof book[field] !== 'string' || book[field] === '') {
        throw new RangeError(`bookAttempt.${field} must be a non-empty string`);
      }
    }
  }
  const version = command.expect.version;
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
    throw new RangeError(`expect.version must be a whole number >= 1, got ${version}`);
  }
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
 * Failover only between provider calls: a `processing -> processing` event that either requires no
 * call in flight, or records in the same write that the call in flight has ended (a definite
 * refusal: `expect.inFlight: true` with `patch.inFlight: false`), so an order never moves away from
 * a provider that may still be carrying out its call, and a crash cannot separate "refused" from
 * "moved on"; or `pending -> processing` (nothing is in flight while pending) when a status check
 * or a confirmed callback proves the pending attempt was refused.
 * Whether the provider is in the route is checked by the store, against the stored route.
 */
function assertSwitch(
  command: TransitionCommand,
  target: NonNullable<NonNullable<TransitionCommand['patch']>['switchProvider']>,
): void {
  if (command.expect.state === 'pending' && command.to === 'processing') {
    if (command.expect.inFlight === true || command.patch?.inFlight === true) {
      throw new RangeError('a failover from pending starts with nothing in flight');
    }
  } else if (command.expect.state !== 'processing' || command.to !== 'processing') {
    throw new RangeError(
      `switchProvider only goes with processing -> processing or pending -> processing, not ${command.expect.state} -> ${command.to}`,
    );
  } else assertCallEnded(command);
  for (const field of ['provider', 'providerOrderId'] as const) {
    if (typeof target[field] !== 'string' || target[field] === '') {
      throw new RangeError(`switchProvider.${field} must be a non-empty string`);
    }
  }
}

function assertCallEnded(command: TransitionCommand): void {
  const callEnded = command.expect.inFlight === true && command.patch?.inFlight === false;
  if (command.expect.inFlight !== false && !callEnded) {
    throw new RangeError(
      'switchProvider needs the expectation inFlight: false, or inFlight: true with patch inFlight: false (the call ended)',
    );
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

/** Batches: the same rules in both stores. */

export const MAX_BATCH_LIST_LIMIT = MAX_LIST_LIMIT;
export const MAX_FIND_BATCHES_LIMIT = 1_000;
/** An upload chunk holds at most 1 MiB. */
export const MAX_UPLOAD_CHUNK_BYTES = 1024 * 1024;

export function isBatchState(value: unknown): value is BatchState {
  return typeof value === 'string' && (BATCH_STATES as readonly string[]).includes(value);
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new RangeError(`${what} must be a non-empty string`);
  return value;
}

function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a whole number >= 0, got ${String(value)}`);
  }
  return value;
}

/** Checks a new batch before anything is written; answers its creation time in ms. */
export function validateNewBatch(batch: NewBatch): number {
  nonEmpty(batch.clientId, 'batch clientId');
  nonEmpty(batch.batchId, 'batchId');
  nonEmpty(batch.contentHash, 'batch contentHash');
  wholeNumber(batch.bytes, 'batch bytes');
  if (batch.filename !== undefined && typeof batch.filename !== 'string') {
    throw new RangeError('batch filename must be a string');
  }
  return timeMs(batch.createdAt, 'createdAt');
}

export function validateBatchPatch(patch: BatchPatch, at: string): number {
  if (patch.state !== undefined && !isBatchState(patch.state)) {
    throw new RangeError(`not a batch state: ${JSON.stringify(patch.state)}`);
  }
  if (patch.rowsRead !== undefined) wholeNumber(patch.rowsRead, 'rowsRead');
  if (patch.error !== undefined && typeof patch.error !== 'string') {
    throw new RangeError('batch error must be a string');
  }
  return timeMs(at, 'at');
}

export function validateUploadChunk(index: number, data: Buffer): void {
  wholeNumber(index, 'upload chunk index');
  if (!Buffer.isBuffer(data)) throw new RangeError('an upload chunk must be a Buffer');
  if (data.length > MAX_UPLOAD_CHUNK_BYTES) {
    throw new RangeError(`an upload chunk holds at most ${MAX_UPLOAD_CHUNK_BYTES} bytes, got ${data.length}`);
  }
}

export function validateFindBatchesLimit(limit: number): number {
  return validateLimit(limit, MAX_FIND_BATCHES_LIMIT, 'findBatches');
}

/** Uploads removed per sweepUploads call, at most. */
export const MAX_SWEEP_UPLOADS_LIMIT = 1_000;

export function validateSweepUploadsLimit(limit: number): number {
  return validateLimit(limit, MAX_SWEEP_UPLOADS_LIMIT, 'sweepUploads');
}

/** Checks an upload's lease before anything is written. */
export function validateUploadLease(lease: UploadLease): void {
  if (typeof lease !== 'object' || lease === null) throw new RangeError('an upload chunk needs its lease');
  nonEmpty(lease.clientId, 'upload lease clientId');
  if (!Number.isSafeInteger(lease.leaseMs) || lease.leaseMs < 1) {
    throw new RangeError(`upload leaseMs must be a whole number >= 1, got ${String(lease.leaseMs)}`);
  }
  if (lease.maxPendingBytes !== undefined) wholeNumber(lease.maxPendingBytes, 'upload maxPendingBytes');
}

/**
 * The sort key of a batch in its client's list: creation time (fixed width), then the batch id.
 * Byte order is creation order, and a cursor on it never skips or repeats.
 */
export function batchListKey(batchId: string, createdAtMs: number): string {
  return `${timePrefix(createdAtMs)}${batchId}`;
}

/** The batch id of a batch list key. */
export function batchIdOfListKey(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

const BATCH_LIST_KEY_PATTERN = /^\d{15}:[\s\S]+$/;

export function validateBatchListQuery(query: { limit: number; cursor?: string | undefined }): {
  limit: number;
  after: string | undefined;
} {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BATCH_LIST_LIMIT) {
    throw new ValidationError([
      { field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${MAX_BATCH_LIST_LIMIT}` },
    ]);
  }
  if (query.cursor === undefined) return { limit, after: undefined };
  const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!BATCH_LIST_KEY_PATTERN.test(decoded)) {
    throw new ValidationError([
      {
        field: 'cursor',
        rule: 'cursor',
        message: 'is not a cursor from a previous page; start again without it',
      },
    ]);
  }
  return { limit, after: decoded };
}

/** What commitRows stores and counts: the rows checked, with a fixed shape and no `undefined`. */
export interface RowCommit {
  readonly firstRow: number;
  readonly rows: readonly RowResult[];
  readonly accepted: number;
  readonly rejected: number;
}

export function rowCommit(results: readonly RowResult[]): RowCommit {
  if (!Array.isArray(results) || results.length === 0) {
    throw new RangeError('commitRows needs at least one row result');
  }
  const firstRow = results[0]?.row ?? 0;
  if (!Number.isSafeInteger(firstRow) || firstRow < 1) {
    throw new RangeError(`row numbers start at 1, got ${String(firstRow)}`);
  }
  let accepted = 0;
  let rejected = 0;
  const rows = results.map((result, i) => {
    if (result.row !== firstRow + i) {
      throw new RangeError(
        `row results must be consecutive: expected row ${firstRow + i}, got ${result.row}`,
      );
    }
    const row = rowResult(result, refuseRow);
    if (row.error !== undefined) rejected += 1;
    else if (row.orderId !== undefined) accepted += 1;
    else throw new RangeError(`row ${row.row} has neither an orderId nor an error`);
    return row;
  });
  return { firstRow, rows, accepted, rejected };
}

function refuseRow(field: string): never {
  throw new RangeError(`row result has an invalid ${field}`);
}

/** A row result with a fixed field order and no `undefined` fields (`fail` on a bad field). */
export function rowResult(value: unknown, fail: (field: string) => never): RowResult {
  if (typeof value !== 'object' || value === null) return fail('row');
  const raw = value as Record<string, unknown>;
  const { row, cells, orderId, error } = raw;
  if (typeof row !== 'number' || !Number.isSafeInteger(row) || row < 1) return fail('row');
  if (typeof cells !== 'object' || cells === null || Array.isArray(cells)) return fail('cells');
  const copy: Record<string, string> = {};
  for (const [name, cell] of Object.entries(cells)) {
    if (typeof cell !== 'string') return fail('cells');
    copy[name] = cell;
  }
  const result: { -readonly [K in keyof RowResult]: RowResult[K] } = { row, cells: copy };
  if (orderId !== undefined && orderId !== null) {
    if (typeof orderId !== 'string') return fail('orderId');
    result.orderId = orderId;
  }
  if (error !== undefined && error !== null) {
    if (typeof error !== 'string') return fail('error');
    result.error = error;
  }
  return result;
}
