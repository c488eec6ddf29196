import type { HistoryEntry } from '@rechargeflow/domain';

/**
 * How the Redis ledger stores a history entry: a JSON array `[at, from, to, source, note,
 * providerStatus, actor]`, the absent ones null and trailing nulls left off — the same facts as the
 * object form without its field names (~40 bytes of every entry, ~110 of a typical order). Entries
 * written before are objects; both read back alike (decodeHistoryEntry). The array's order is the
 * stored format: append, never reorder.
 */
const FIELDS = ['at', 'from', 'to', 'source', 'note', 'providerStatus', 'actor'] as const;

export function encodeHistoryEntry(entry: HistoryEntry): string {
  const values: unknown[] = FIELDS.map((field) => entry[field] ?? null);
  while (values.length > 4 && values.at(-1) === null) values.pop();
  return JSON.stringify(values);
}

/**
 * The parts of an entry around its `from` and `to`, for a script that writes the state it reads in
 * their place (APPEND_HISTORY): `head` is `[at`, `tail` is `,source,…]`.
 */
export function encodeHistoryAround(entry: Omit<HistoryEntry, 'from' | 'to'>): {
  head: string;
  tail: string;
} {
  const json = encodeHistoryEntry({ ...entry, from: null, to: 'queued' });
  const head = JSON.stringify([entry.at]).slice(0, -1);
  const tail = json.slice(head.length + ',null,"queued"'.length);
  return { head, tail };
}

/** A stored array entry as the object decodeHistoryEntry reads (nulls of optional fields dropped). */
export function historyEntryFields(values: readonly unknown[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  FIELDS.forEach((field, i) => {
    const value = values[i];
    if (value !== undefined && (value !== null || field === 'from')) raw[field] = value;
  });
  return raw;
}
