import type { HistoryEntry, OrderState } from '@rechargeflow/domain';

/** A history entry with a fixed field order and no `undefined` fields, identical in both stores. */
export function historyEntry(
  from: OrderState | null,
  to: OrderState,
  entry: Omit<HistoryEntry, 'from' | 'to'>,
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
