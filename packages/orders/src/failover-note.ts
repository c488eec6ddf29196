import type { HistoryEntry, Order } from '@rechargeflow/domain';

/** One attempt of an order: the provider and the orderid it was sent to it as. */
export interface Attempt {
  readonly provider: string;
  readonly providerOrderId: string;
}

/**
 * The note of a failover: what proved the refusal, where the order goes, and which attempt was
 * refused (the tail is what `failoverOf` reads back; written here only, so the two cannot drift).
 */
export function failoverNote(says: string, refused: Attempt, next: Attempt): string {
  return `${says}; failing over to ${next.provider} as ${next.providerOrderId} (${refused.provider} refused ${refused.providerOrderId})`;
}

// Anchored at the end: the provider's own words (`says`) come first and cannot end a note this way.
// The refused attempt is optional: failovers written before it was named still count.
const FAILOVER_TAIL = /; failing over to (\S+) as (\S+)(?: \((\S+) refused (\S+)\))?$/;

/** A failover entry, with the attempt it refused when the note names it; `undefined` otherwise. */
export function failoverOf(entry: HistoryEntry): { readonly refused?: Attempt | undefined } | undefined {
  // A failover switches the attempt of an unsettled order: `processing|pending -> processing`.
  if (entry.to !== 'processing' || (entry.from !== 'processing' && entry.from !== 'pending'))
    return undefined;
  if (entry.source !== 'worker' && entry.source !== 'poller' && entry.source !== 'callback') return undefined;
  const match = FAILOVER_TAIL.exec(entry.note ?? '');
  if (!match) return undefined;
  const [, , , provider, providerOrderId] = match;
  return { refused: provider && providerOrderId ? { provider, providerOrderId } : undefined };
}

/**
 * The order's last failover (its index in the history and the attempt it refused), or `undefined`
 * when it never failed over — that is, when no attempt of it was ever sent and left behind: the
 * order leaves a sent attempt only by a failover (a definite refusal of that attempt); every other
 * way out of a sent attempt (`pending`, `success`, `failed`, `manual_review`) never sends again.
 */
export function lastFailover(
  order: Order,
): { readonly index: number; readonly refused?: Attempt | undefined } | undefined {
  for (let index = order.history.length - 1; index >= 0; index--) {
    const failover = failoverOf(order.history[index]!);
    if (failover) return { index, refused: failover.refused };
  }
  return undefined;
}
