import type { Order } from '@rechargeflow/domain';
import type { WorkerDeps } from './deps.ts';
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
 * When the order began to wait: the time of its first wait note, whatever attempt it was about
 * (a reroute to another provider that cannot take it either does not restart the clock, so the
 * whole wait stays within ORDER_MAX_WAIT), or `undefined` when it never waited. The note is the
 * record; no other field holds it, so a lost job or a restart resumes the same wait.
 */
export function waitingSince(order: Order): string | undefined {
  return order.history.find((entry) => entry.note?.startsWith(WAIT_NOTE))?.at;
}

/** Whether the order has waited ORDER_MAX_WAIT already (its run came late: it must not be sent). */
export function waitIsOver(order: Order, now: Date, maxWaitMs: number): boolean {
  const since = waitingSince(order);
  return maxWaitMs > 0 && since !== undefined && now.getTime() - Date.parse(since) >= maxWaitMs;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

/** The wait is over: fail the order as never sent, with this note. */
export interface GiveUp {
  readonly note: string;
}

/**
 * An order that provably was not sent (no provider of its route may take it now, or its call never
 * left) waits for up to ORDER_MAX_WAIT instead of failing: the first time, its history says what it
 * waits for and until when; the job then runs again later (a wait spends none of the job's
 * attempts). Past the deadline: resolves with the note the caller fails it with, as never sent.
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
      note: `never sent: no provider could take it within ORDER_MAX_WAIT (${minutes(maxWaitMs)}, waiting since ${new Date(sinceMs).toISOString()}): ${reason}`,
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
          note: `${waitNotePrefix(order)} ${reason}; nothing was sent; it stays ${order.state} and is tried again until ${deadline} (ORDER_MAX_WAIT ${minutes(maxWaitMs)}), then fails as never sent`,
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
