import {
  assertNever,
  type Order,
  type OrderKey,
  providerOrderId,
  type TransitionSource,
} from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import { rechargeJobId } from '@rechargeflow/queue';
import { nowIso, OPEN_GATE, type WorkerDeps } from './deps.ts';
import { failoverNote } from './failover-note.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';
import { LedgerUnavailableError } from './ledger-unavailable-error.ts';

/**
 * One thing a provider said about one attempt (one providerOrderId): its answer to our recharge
 * call, a callback, or a status-API answer. Every source goes through `applyFact`, so an outcome
 * means the same whichever way it arrived.
 */
export interface ProviderFact {
  readonly source: Extract<TransitionSource, 'worker' | 'callback' | 'poller'>;
  /** The attempt the fact is about. */
  readonly providerOrderId: string;
  readonly outcome: 'success' | 'failed' | 'pending' | 'not_found';
  /**
   * The worker's own answer or the status API's: proof of the attempt's outcome. A callback is
   * not (it may be stale or forged) until the status API confirms it.
   */
  readonly proven: boolean;
  /** What it was, in words for the history (e.g. `a1topup refused: low balance`). */
  readonly says: string;
  readonly providerStatus?: string | undefined;
  readonly providerTxId?: string | undefined;
  readonly providerRef?: string | undefined;
}

export type FactResult =
  /** The fact moved the order (settled it, sent it to a person, or booked a proven charge). */
  | { readonly kind: 'applied'; readonly order: Order; readonly note: string }
  /** A definite refusal: the order went on to the next provider of its route. */
  | { readonly kind: 'rerouted'; readonly order: Order; readonly note: string }
  /** Nothing to change (it agrees, or cannot be applied): written to the order's history. */
  | {
      readonly kind: 'recorded';
      readonly order: Order;
      readonly note: string;
      /** It contradicts the ledger and an operator should look (logged as an error). */
      readonly conflict: boolean;
    }
  /** Would settle the order but is not proven: confirm it with the status API first. */
  | { readonly kind: 'needs_proof'; readonly order: Order }
  /** A Failure callback for a `success` order: a dispute reversal, confirmed by its own path. */
  | { readonly kind: 'reversal'; readonly order: Order };

/** Rounds of read-decide-write before a fact that keeps meeting a moving order gives up (retryable). */
const ROUNDS = 6;

/**
 * Applies one provider fact to the order that holds its attempt. Every write names the attempt
 * (`expect.providerOrderId`), so a fact about an attempt the order has left never moves the
 * current one; a write that meets a changed order decides again on what it is now. A fact that
 * cannot be applied is appended to the order's history with its source and raw status, never
 * dropped; one that contradicts the ledger sends the order to `manual_review` where it can.
 * `order` is the order as the caller last read it (first round; re-read after a conflict).
 */
export async function applyFact(deps: WorkerDeps, order: Order, fact: ProviderFact): Promise<FactResult> {
  let current: Order = order;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      const read = await ledgerCall(() => deps.ledger.getOrder(order));
      if (!read) throw new LedgerUnavailableError(new Error('order vanished while a fact was applied'));
      current = read;
    }
    const result = await decide(deps, current, fact);
    if (result !== null) return result;
  }
  throw new LedgerUnavailableError(new Error('order kept changing while a provider fact was applied'));
}

/** One round: the result, or `null` when the order changed under the write (decide again). */
async function decide(deps: WorkerDeps, order: Order, fact: ProviderFact): Promise<FactResult | null> {
  if (fact.providerOrderId !== order.providerOrderId) return earlierAttempt(deps, order, fact);
  const state = order.state;
  switch (state) {
    case 'queued':
      // Only a provider can know this orderid: it was sent although the ledger lost the claim
      // (a Redis restart without AOF). Hold it, so no job ever sends it again, then apply.
      return hold(deps, order, fact);
    case 'processing':
    case 'pending':
      return unsettled(deps, order, state, fact);
    case 'success':
      switch (fact.outcome) {
        case 'success':
          return record(deps, order, fact, `${fact.says}; agrees (already success)`, false);
        case 'failed':
          if (fact.source === 'callback') return { kind: 'reversal', order };
          return record(
            deps,
            order,
            fact,
            `CONFLICT: ${fact.says}, but the order is success; check with ${order.provider}`,
            true,
          );
        case 'pending':
        case 'not_found':
          return record(deps, order, fact, `${fact.says}; the order is already success`, false);
        default:
          return assertNever(fact.outcome);
      }
    case 'failed':
      switch (fact.outcome) {
        case 'success':
          if (!fact.proven) return { kind: 'needs_proof', order };
          return write(deps, order, {
            expect: { state: 'failed', providerOrderId: order.providerOrderId },
            to: 'success',
            patch: fieldsOf(fact),
            entry: entry(
              deps,
              fact,
              `${fact.says}: a charge proven after the order was recorded failed; booked as success`,
            ),
          });
        case 'failed':
          return record(deps, order, fact, `${fact.says}; agrees (already failed)`, false);
        case 'pending':
        case 'not_found':
          return record(deps, order, fact, `${fact.says}; the order is already failed`, false);
        default:
          return assertNever(fact.outcome);
      }
    case 'manual_review':
      if (order.inFlight && fact.source === 'worker') {
        // The call that was in flight when the order went to a person has ended: its answer is
        // what the operator needs, and until now they could not decide (resolve refuses in flight).
        return write(deps, order, {
          expect: { state: 'manual_review', inFlight: true, providerOrderId: order.providerOrderId },
          to: 'manual_review',
          patch: { ...fieldsOf(fact), inFlight: false },
          entry: entry(deps, fact, `${fact.says} (the call in flight has ended; shown to the operator)`),
        });
      }
      return record(
        deps,
        order,
        fact,
        `${fact.says} (shown to the operator; the order awaits a decision)`,
        false,
      );
    case 'reversed':
      return record(deps, order, fact, `${fact.says}; the order is already reversed`, false);
    default:
      return assertNever(state);
  }
}

/** The current attempt of an order not settled yet (in flight, waiting to be sent, or pending). */
async function unsettled(
  deps: WorkerDeps,
  order: Order,
  state: 'processing' | 'pending',
  fact: ProviderFact,
): Promise<FactResult | null> {
  const pin = { state, providerOrderId: order.providerOrderId } as const;
  switch (fact.outcome) {
    case 'success':
      if (!fact.proven) return { kind: 'needs_proof', order };
      return write(deps, order, {
        expect: pin,
        to: 'success',
        patch: { ...fieldsOf(fact), inFlight: false },
        entry: entry(deps, fact, fact.says),
      });
    case 'failed':
      if (!fact.proven) return { kind: 'needs_proof', order };
      return failOrFailOver(deps, order, fact);
    case 'pending':
    case 'not_found':
      // The worker's call ended without an outcome: the status check settles it.
      if (state === 'processing' && fact.source === 'worker') {
        return write(deps, order, {
          expect: pin,
          to: 'pending',
          patch: { ...fieldsOf(fact), inFlight: false, checkAfterMs: deps.firstCheckAfterMs },
          entry: entry(deps, fact, fact.says),
        });
      }
      return record(deps, order, fact, `${fact.says}; no change`, false);
    default:
      return assertNever(fact.outcome);
  }
}

/**
 * A definite refusal of the current attempt: the next provider of the route that may take the order
 * gets it with a new orderid, in the same write that records the refusal (from `processing` or
 * `pending`); with none left, the order fails. Same rule for the worker's answer, a confirmed
 * callback and a status check.
 */
async function failOrFailOver(
  deps: WorkerDeps,
  order: Order,
  fact: ProviderFact,
): Promise<FactResult | null> {
  const state = order.state as 'processing' | 'pending';
  const index = order.route.indexOf(order.provider);
  const next =
    index >= 0 && index + 1 < order.route.length ? await nextProvider(deps, order, index + 1) : null;
  if (next && next.provider !== null) {
    const newId = providerOrderId(order, next.index + 1);
    const switched = await transitionOrder(deps, order, {
      // A refusal ends any call in flight: the switch records both in one write.
      expect: {
        state,
        providerOrderId: order.providerOrderId,
        inFlight: state === 'processing' ? order.inFlight : undefined,
      },
      to: 'processing',
      patch: {
        inFlight: false,
        switchProvider: { provider: next.provider, providerOrderId: newId },
        providerStatus: fact.providerStatus,
      },
      entry: entry(
        deps,
        fact,
        failoverNote(fact.says, order, { provider: next.provider, providerOrderId: newId }),
      ),
    });
    if (!switched) return null;
    await handTo(deps, switched);
    return { kind: 'rerouted', order: switched, note: `${state} -> failed over to ${next.provider}` };
  }
  const why = next === null ? '' : ` (no other provider may take it now: ${next.reason})`;
  return write(deps, order, {
    expect: { state, providerOrderId: order.providerOrderId },
    to: 'failed',
    patch: { ...fieldsOf(fact), inFlight: false },
    entry: entry(deps, fact, `${fact.says}${why}`),
  });
}

/**
 * A fact about an attempt the order has left. The order leaves an attempt only after a definite
 * refusal, or before anything was sent; so a Failure says what we know, and a Success is a charge
 * we counted as unpaid: the order goes to a person (it cannot from `success` or `reversed`, where
 * the conflict is recorded and shown in the callbacks list). Never applied to the current attempt.
 */
async function earlierAttempt(
  deps: WorkerDeps,
  order: Order,
  fact: ProviderFact,
): Promise<FactResult | null> {
  const moved = `the order moved on to ${order.provider} as ${order.providerOrderId}`;
  if (fact.outcome !== 'success') {
    return record(
      deps,
      order,
      fact,
      `${fact.says}, about an earlier attempt (${fact.providerOrderId}); ${moved}`,
      false,
    );
  }
  const conflict = `CONFLICT: ${fact.says}, about an earlier attempt (${fact.providerOrderId}) that was refused or never sent; ${moved}`;
  const state = order.state;
  switch (state) {
    case 'queued':
      // Never the case after a switch (an order leaves `queued` before it can switch); held anyway.
      return hold(deps, order, fact);
    case 'processing':
    case 'pending':
    case 'failed':
      deps.log.error(
        {
          clientId: order.clientId,
          orderId: order.orderId,
          providerOrderId: fact.providerOrderId,
          currentProviderOrderId: order.providerOrderId,
          state,
          source: fact.source,
        },
        'provider reports a charge for an earlier attempt of an order; to manual review',
      );
      return write(deps, order, {
        expect: { state, providerOrderId: order.providerOrderId },
        to: 'manual_review',
        // An attempt in flight stays marked so: the operator waits for its answer before deciding.
        entry: entry(deps, fact, `${conflict}; an operator decides (check both providers)`),
      });
    case 'manual_review':
      return record(deps, order, fact, `${conflict} (shown to the operator)`, true);
    case 'success':
    case 'reversed':
      return record(deps, order, fact, `${conflict}; the order is ${state}: check both providers`, true);
    default:
      return assertNever(state);
  }
}

/** queued -> processing (in flight, so no job sends it) -> pending (checked at once). */
async function hold(deps: WorkerDeps, order: Order, fact: ProviderFact): Promise<FactResult | null> {
  const held = await transitionOrder(deps, order, {
    expect: { state: 'queued', providerOrderId: order.providerOrderId },
    to: 'processing',
    patch: { inFlight: true },
    entry: entry(
      deps,
      fact,
      `${fact.says} for an order recorded as never sent: it reached the provider (a lost claim); held, never sent again`,
    ),
  });
  if (!held) return null;
  await transitionOrder(deps, held, {
    expect: { state: 'processing', inFlight: true, providerOrderId: held.providerOrderId },
    to: 'pending',
    patch: { inFlight: false, checkAfterMs: 0 },
    entry: { at: nowIso(deps), source: fact.source, note: 'held for the status check' },
  });
  // Whatever happened meanwhile, the next round decides on the order as it is now.
  return null;
}

/** Writes `command`; `null` when the order changed under it (decide again). */
async function write(deps: WorkerDeps, order: Order, command: TransitionCommand): Promise<FactResult | null> {
  const moved = await transitionOrder(deps, order, command);
  if (!moved) return null;
  return { kind: 'applied', order: moved, note: `${order.state} -> ${moved.state}` };
}

/** Appends the fact to the order's history: nothing is dropped. */
async function record(
  deps: WorkerDeps,
  order: Order,
  fact: ProviderFact,
  note: string,
  conflict: boolean,
): Promise<FactResult | null> {
  if (conflict) {
    deps.log.error(
      { clientId: order.clientId, orderId: order.orderId, providerOrderId: fact.providerOrderId, note },
      'provider fact contradicts the ledger',
    );
  }
  // Pinned to what the decision was made on: an order that moved meanwhile is decided again.
  const written = await ledgerCall(() =>
    deps.ledger.appendHistory(order, entry(deps, fact, note), {
      state: order.state,
      providerOrderId: order.providerOrderId,
    }),
  );
  if (!written.applied) {
    if (written.reason === 'not_found') throw new LedgerUnavailableError(new Error('order vanished'));
    return null;
  }
  return { kind: 'recorded', order: written.order, note, conflict };
}

function entry(deps: WorkerDeps, fact: ProviderFact, note: string): TransitionCommand['entry'] {
  return { at: nowIso(deps), source: fact.source, note, providerStatus: fact.providerStatus };
}

function fieldsOf(fact: ProviderFact) {
  return {
    providerStatus: fact.providerStatus,
    providerTxId: fact.providerTxId,
    providerRef: fact.providerRef,
  };
}

/**
 * The provider that may take a refused order next. A gate that cannot be read (a Redis blip on the
 * breakers or balances) must not cost the refusal in hand: the next provider of the route takes it,
 * and its own job asks the gate again before sending. Either way only a provider this part runs
 * (its PROVIDERS): nothing would consume another's queue.
 */
async function nextProvider(
  deps: WorkerDeps,
  order: Order,
  fromIndex: number,
): Promise<{ provider: string; index: number } | { provider: null; reason: string }> {
  const notHere: string[] = [];
  let from = fromIndex;
  while (from < order.route.length) {
    const provider = order.route[from]!;
    if (!deps.providers.has(provider)) {
      notHere.push(provider);
      from++;
      continue;
    }
    let choice: { provider: string; index: number } | { provider: null; reason: string };
    try {
      choice = await (deps.gate ?? OPEN_GATE).select(order.route, from, order.request.amount);
    } catch (error) {
      deps.log.warn(
        { clientId: order.clientId, orderId: order.orderId, next: provider, err: String(error) },
        'provider gate unreadable after a refusal; failing over to the next provider of the route',
      );
      return { provider, index: from };
    }
    // The gate passed over providers it may not use now and chose one not enabled here: look after it.
    if (choice.provider === null && notHere.length > 0)
      return { provider: null, reason: `${notHere.join(', ')} not enabled here, ${choice.reason}` };
    if (choice.provider === null || deps.providers.has(choice.provider)) return choice;
    notHere.push(choice.provider);
    from = choice.index + 1;
  }
  return {
    provider: null,
    reason: notHere.length > 0 ? `${notHere.join(', ')} not enabled here` : 'no provider left in the route',
  };
}

/** Adds the order's job on its (new) provider's queue; a lost add is repaired by the poller's sweep. */
export async function handTo(deps: WorkerDeps, order: Order): Promise<void> {
  const key: OrderKey = { clientId: order.clientId, orderId: order.orderId };
  try {
    await deps.producer.enqueue('recharge', key, rechargeJobId(key, order.provider), order.provider);
  } catch (error) {
    deps.log.warn(
      { ...key, provider: order.provider, err: String(error) },
      'rerouted order recorded; its job will be re-added by the sweep',
    );
  }
}
