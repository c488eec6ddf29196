import type { Order } from '@rechargeflow/domain';
import type { WorkerDeps } from './deps.ts';
import { lastFailover } from './failover-note.ts';
import { ledgerCall, storeNow } from './ledger-calls.ts';
import { NotSentRetryError } from './not-sent-retry-error.ts';

/**
 * How often a waiting order looks again: half the time it has waited so far, at least 5 s and at
 * most 60 s (so an order looks about every minute in a long outage, and soon after a short one),
 * ±10 % so the orders of one outage do not all look at once.
 */
export const WAIT_LOOK_AGAIN = { minMs: 5_000, maxMs: 60_000, jitter: 0.1 } as const;

/** How the one history note an order gets when it begins to wait starts. */
const WAIT_NOTE = 'waiting for a provider to take it as ';

function waitNotePrefix(order: Order): string {
  return `${WAIT_NOTE}${order.providerOrderId}:`;
}

/**
 * When the order began to wait: the time of its first wait note after its last failover, or
 * `undefined` when it has not waited since. The rule is exact because an order leaves an attempt
 * that was sent only by a failover (a definite refusal of that attempt hands it to the next
 * provider): so the wait notes before the last failover belong to a wait that ended when an attempt
 * was sent, and a new provider gets a whole ORDER_MAX_WAIT. A reroute before anything was sent is no
 * failover and does not restart the clock (the whole wait of never-sent attempts stays within
 * ORDER_MAX_WAIT), nor does a call that provably never left. The notes are the record; no other
 * field holds it, so a lost job or a restart resumes the same wait.
 */
export function waitingSince(order: Order): string | undefined {
  const from = (lastFailover(order)?.index ?? -1) + 1;
  for (let index = from; index < order.history.length; index++) {
    const entry = order.history[index]!;
    if (entry.note?.startsWith(WAIT_NOTE)) return entry.at;
  }
  return undefined;
}

/**
 * The note that fails an order whose current attempt was not sent: `never sent: <why>` when no
 * attempt of it was ever sent; after a failover it was sent once and refused, so it says that:
 * `not sent to <provider>: <why>; the earlier attempt <orderid> was refused by <provider>`.
 */
export function notSentNote(order: Order, why: string): string {
  const failover = lastFailover(order);
  if (failover === undefined) return `never sent: ${why}`;
  const earlier = failover.refused
    ? `the earlier attempt ${failover.refused.providerOrderId} was refused by ${failover.refused.provider}`
    : 'an earlier attempt was sent and refused';
  return `not sent to ${order.provider}: ${why}; ${earlier}`;
}

/** Whether the order has waited ORDER_MAX_WAIT already (its run came late: it must not be sent). */
export function waitIsOver(order: Order, now: Date, maxWaitMs: number): boolean {
  const since = waitingSince(order);
  return maxWaitMs > 0 && since !== undefined && now.getTime() - Date.parse(since) >= maxWaitMs;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

/** The wait is over: fail the order, not sent (now), with this note. */
export interface GiveUp {
  readonly note: string;
}

/**
 * An order that provably was not sent (no provider of its route may take it now, or its call never
 * left) waits for up to ORDER_MAX_WAIT instead of failing: the first time, its history says what it
 * waits for and until when; the job then runs again later (a wait spends none of the job's
 * attempts). Past the deadline: resolves with the note the caller fails it with (`notSentNote`).
 * Throws NotSentRetryError (with `retryAfterMs`) to wait; the caller must have left nothing in flight.
 */
export async function waitOrGiveUp(
  deps: WorkerDeps,
  order: Order,
  reason: string,
  maxWaitMs: number,
): Promise<GiveUp> {
  // The ledger's clock, like every age: hosts' clocks drift.
  const now = await storeNow(deps);
  const since = waitingSince(order);
  const sinceMs = since === undefined ? now.getTime() : Date.parse(since);
  const waited = now.getTime() - sinceMs;
  if (waited >= maxWaitMs) {
    return {
      note: notSentNote(
        order,
        `no provider could take it within ORDER_MAX_WAIT (${minutes(maxWaitMs)}, waiting since ${new Date(sinceMs).toISOString()}): ${reason}`,
      ),
    };
  }
  if (since === undefined) {
    const deadline = new Date(sinceMs + maxWaitMs).toISOString();
    const written = await ledgerCall(() =>
      deps.ledger.appendHistory(
        order,
        {
          at: now.toISOString(),
          source: 'worker',
          note: `${waitNotePrefix(order)} ${reason}; nothing was sent; it stays ${order.state} and is tried again until ${deadline} (ORDER_MAX_WAIT ${minutes(maxWaitMs)}), then fails as ${lastFailover(order) ? `not sent to ${order.provider}` : 'never sent'}`,
        },
        // Only onto the attempt we looked at, in the state we saw: a concurrent change wins.
        { state: order.state, providerOrderId: order.providerOrderId },
      ),
    );
    // Changed meanwhile: the next run looks at it afresh.
    if (!written.applied) throw retryLater(order, reason, WAIT_LOOK_AGAIN.minMs);
    deps.log.info(
      { clientId: order.clientId, orderId: order.orderId, provider: order.provider, reason, until: deadline },
      'no provider can take the order now; it waits',
    );
  }
  const left = maxWaitMs - waited;
  const base = Math.min(WAIT_LOOK_AGAIN.maxMs, Math.max(WAIT_LOOK_AGAIN.minMs, waited / 2));
  const jittered = base * (1 + WAIT_LOOK_AGAIN.jitter * (2 * Math.random() - 1));
  // The last look falls just after the deadline, so the give-up happens on time.
  throw retryLater(order, reason, Math.min(jittered, left + 50));
}

function retryLater(order: Order, reason: string, afterMs: number): NotSentRetryError {
  return new NotSentRetryError(
    `not sent, waiting for a provider: ${reason}`,
    { clientId: order.clientId, orderId: order.orderId },
    Math.max(0, Math.round(afterMs)),
  );
}
