import { assertTransition, type Reversal } from '@rechargeflow/domain';
import { timeMs } from '../shared/time.ts';
import { milliseconds } from '../shared/validation.ts';
import type { TransitionCommand } from './order-store.ts';

/** The rules of a transition command, decided before the write, so both stores agree on them. */

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
