import { createHash } from 'node:crypto';
import { corrupt, optionalText, type Raw, text } from '../shared/stored-records.ts';
import { timeMs } from '../shared/time.ts';
import { validateLimit } from '../shared/validation.ts';
import {
  CALLBACK_OUTCOMES,
  type CallbackInput,
  type CallbackOutcome,
  type CallbackRecord,
} from './callback-store.ts';

/** Callbacks: their id, the checks of what callers pass, and the decoder of a stored record. */

export const MAX_CALLBACK_LIMIT = 1_000;

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

/** `raw.copies` already a number. */
export function decodeCallback(raw: Raw): CallbackRecord {
  const outcome = raw.outcome;
  const copies = raw.copies;
  if (!isCallbackOutcome(outcome)) corrupt('callback', 'outcome', outcome);
  if (typeof copies !== 'number' || !Number.isSafeInteger(copies) || copies < 1)
    corrupt('callback', 'copies', copies);
  const callback: { -readonly [K in keyof CallbackRecord]: CallbackRecord[K] } = {
    id: text(raw, 'callback', 'id'),
    provider: text(raw, 'callback', 'provider'),
    providerOrderId: text(raw, 'callback', 'providerOrderId'),
    status: text(raw, 'callback', 'status'),
    receivedAt: text(raw, 'callback', 'receivedAt'),
    raw: text(raw, 'callback', 'raw'),
    outcome,
    copies,
    updatedAt: text(raw, 'callback', 'updatedAt'),
  };
  const providerRef = optionalText(raw, 'callback', 'providerRef');
  const note = optionalText(raw, 'callback', 'note');
  if (providerRef !== undefined) callback.providerRef = providerRef;
  if (note !== undefined) callback.note = note;
  return callback;
}

/** The stored fields of a new callback (before outcome, copies and updatedAt), without `undefined`. */
export function callbackFields(input: CallbackInput): Record<string, string> {
  const fields: Record<string, string> = {
    provider: input.provider,
    providerOrderId: input.providerOrderId,
    status: input.status,
    receivedAt: input.receivedAt,
    raw: input.raw,
  };
  if (input.providerRef !== undefined) fields.providerRef = input.providerRef;
  return fields;
}
