import { LedgerCorruptionError } from '../ledger-errors.ts';

/** Reading the scripts' and commands' replies: anything not as written is corruption, never guessed at. */

export function unexpected(script: string, reply: unknown): never {
  throw new LedgerCorruptionError(`unexpected answer from the ${script} script`, {
    context: { reply: typeof reply },
  });
}

export function asReply(reply: unknown): [string, unknown] {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') return unexpected('ledger', reply);
  return [reply[0], reply[1]];
}

export function flatToHash(flat: unknown): Record<string, unknown> {
  if (!Array.isArray(flat)) return unexpected('ledger', flat);
  const hash: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[String(flat[i])] = flat[i + 1];
  return hash;
}

export function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return unexpected('ledger', value);
  return value as Record<string, unknown>;
}

export function parseStored(value: unknown, message: string): unknown {
  if (typeof value !== 'string') throw new LedgerCorruptionError(message);
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw new LedgerCorruptionError(message, { cause });
  }
}
