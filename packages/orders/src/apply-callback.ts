import { assertNever, type Order, ProviderError, RechargeflowError } from '@rechargeflow/domain';
import type { CallbackOutcome, CallbackRecord } from '@rechargeflow/ledger';
import { applyFact, type FactResult, type ProviderFact } from './apply-fact.ts';
import { CallbackRetryError } from './callback-retry-error.ts';
import { type CatalogDeps, nowIso, type WorkerDeps } from './deps.ts';
import { ledgerCall, storeNow, transitionOrder } from './ledger-calls.ts';

export interface CallbackSettings {
  /** Confirm a reversal with the provider's status API before applying it (on by default). */
  readonly verifyReversals: boolean;
  /**
   * Confirm a callback that would settle an order (pending, in flight, or a charge reported for a
   * `failed` one) with the status API before applying it. Default true; false trusts callbacks.
   */
  readonly verifyCallbacks?: boolean | undefined;
  /**
   * How long after it arrived a callback (a reversal or a settlement) the status API does not
   * (yet) confirm is asked about again, before it is kept as `reversal_not_confirmed` /
   * `not_confirmed` for an operator (default 15 min).
   */
  readonly confirmWindowMs?: number | undefined;
}

export const DEFAULT_REVERSAL_CONFIRM_WINDOW_MS = 15 * 60_000;

/** The providers to ask (confirmations) and the registry that reads callbacks' statuses. */
export type CallbackDeps = WorkerDeps & CatalogDeps;

export interface CallbackResult {
  readonly outcome: CallbackOutcome;
  readonly note: string;
  readonly order?: Order | undefined;
}

/**
 * Applies one stored callback to the ledger. Idempotent: a callback already applied is skipped,
 * and every transition is conditional, so duplicates, concurrent copies and out-of-order
 * arrivals change an order at most once.
 */
export async function applyCallback(
  deps: CallbackDeps,
  callbackId: string,
  settings: CallbackSettings,
): Promise<CallbackResult> {
  const record = await ledgerCall(() => deps.ledger.getCallback(callbackId));
  if (!record) throw new RechargeflowError('callback not found', { context: { callbackId } });
  if (record.outcome !== 'received') return { outcome: record.outcome, note: 'already handled' };
  const result = await decide(deps, record, settings);
  // An operator may have settled this callback while we asked the provider: theirs stands.
  const now = await ledgerCall(() => deps.ledger.getCallback(callbackId));
  if (now && now.outcome !== 'received') {
    return {
      outcome: 'no_change',
      note: `handled meanwhile (${now.outcome}); left as it is`,
      order: result.order,
    };
  }
  await ledgerCall(() =>
    deps.ledger.setCallbackOutcome(record.id, result.outcome, result.note, nowIso(deps)),
  );
  deps.events?.callback?.(record.provider, result.outcome);
  const level = result.outcome === 'applied' || result.outcome === 'no_change' ? 'info' : 'warn';
  deps.log[level](
    {
      callbackId: record.id,
      provider: record.provider,
      providerOrderId: record.providerOrderId,
      outcome: result.outcome,
      note: result.note,
    },
    'callback handled',
  );
  return result;
}

async function decide(
  deps: CallbackDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
): Promise<CallbackResult> {
  // What the status text means is the sending provider's (its module in the registry).
  const reported = deps.providerCatalog.callbackStatus(record.provider, record.status);
  const order = await ledgerCall(() => deps.ledger.getOrderByProviderOrderId(record.providerOrderId));
  if (!order)
    return { outcome: 'unknown_order', note: `no order has provider orderid ${record.providerOrderId}` };
  if (!reported) {
    const note = `callback with status "${record.status}" (not ${deps.providerCatalog.callbackStatusWords(record.provider)}) about ${record.providerOrderId}; not applied`;
    await ledgerCall(() =>
      deps.ledger.appendHistory(order, {
        at: nowIso(deps),
        source: 'callback',
        note,
        providerStatus: record.status,
      }),
    );
    return { outcome: 'ignored', note, order };
  }
  // An operator may have recorded the reversal with this very callback while its job ran.
  if (order.state === 'reversed' && order.reversal?.callbackId === record.id)
    return { outcome: 'applied', note: 'the order was reversed with this callback', order };
  const fact: ProviderFact = {
    source: 'callback',
    providerOrderId: record.providerOrderId,
    outcome: reported,
    // Unverified settlement only where the installation turned verification off.
    proven: settings.verifyCallbacks === false,
    says: `callback ${record.status} (${record.id})`,
    providerStatus: record.status,
    providerRef: record.providerRef,
  };
  return fromFact(deps, record, settings, fact, await applyFact(deps, order, fact));
}

async function fromFact(
  deps: CallbackDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
  fact: ProviderFact,
  result: FactResult,
): Promise<CallbackResult> {
  switch (result.kind) {
    case 'applied':
    case 'rerouted':
      return { outcome: 'applied', note: result.note, order: result.order };
    case 'recorded':
      return { outcome: result.conflict ? 'conflict' : 'no_change', note: result.note, order: result.order };
    case 'needs_proof':
      return confirm(deps, record, settings, fact, result.order);
    case 'reversal':
      return applyReversal(deps, record, settings, result.order);
    default:
      return assertNever(result);
  }
}

/**
 * A callback that would settle an order (pending, in flight, or a charge on a `failed` one) is
 * confirmed with the provider's status API first: a stale or forged Failure must not fail a
 * possibly charged order (the shop would pay twice), nor a Success book one never charged. The
 * status answer is applied as the proof; one the API does not give yet is asked for again until
 * the confirm window ends. A provider with no status API hands the order to a person.
 */
async function confirm(
  deps: CallbackDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
  fact: ProviderFact,
  order: Order,
): Promise<CallbackResult> {
  const provider = deps.providers.get(order.provider);
  if (!provider?.supports.status) {
    return toReview(deps, fact, order, `${order.provider} has no status API to confirm it`);
  }
  const waitedMs = (await storeNow(deps)).getTime() - Date.parse(record.receivedAt);
  const giveUp = waitedMs >= (settings.confirmWindowMs ?? DEFAULT_REVERSAL_CONFIRM_WINDOW_MS);
  const waited = `${Math.round(waitedMs / 60_000)} min after it arrived`;
  let answer: Awaited<ReturnType<typeof provider.checkStatus>>;
  try {
    answer = await provider.checkStatus(fact.providerOrderId);
  } catch (error) {
    const failureClass = error instanceof ProviderError ? error.failureClass : 'ambiguous';
    if (giveUp)
      return unconfirmed(deps, fact, order, `the status API did not answer (${failureClass}) ${waited}`);
    throw new CallbackRetryError(`could not confirm the callback (${failureClass}); will ask again`, {
      callbackId: record.id,
    });
  }
  if (answer.status === 'success' || answer.status === 'failed') {
    const agrees = answer.status === fact.outcome;
    const proof: ProviderFact = {
      source: 'callback',
      providerOrderId: fact.providerOrderId,
      outcome: answer.status,
      proven: true,
      says: agrees
        ? `${fact.says}, confirmed by the status API (${answer.rawStatus})`
        : `${fact.says} contradicted by the status API, which reports ${answer.rawStatus}`,
      providerStatus: answer.rawStatus,
      providerTxId: answer.providerTxId,
      providerRef: answer.providerRef ?? record.providerRef,
    };
    const result = await fromFact(deps, record, settings, proof, await applyFact(deps, order, proof));
    if (agrees) return result;
    // The provider's books settled the order; the callback's own claim was not true.
    return {
      outcome: 'not_confirmed',
      note: `${proof.says}; applied the status answer: ${result.note}`,
      order: result.order,
    };
  }
  if (!giveUp) {
    throw new CallbackRetryError(
      `callback not confirmed yet: the status API reports ${answer.status}; will ask again`,
      { callbackId: record.id },
    );
  }
  return unconfirmed(
    deps,
    fact,
    order,
    `the status API still reports ${answer.status} (${answer.rawStatus}) ${waited}`,
  );
}

/**
 * The confirm window ended without proof. A charge reported for a `failed` order goes to a person
 * (money may have left); otherwise the order is left to its own status checks and the callback is
 * kept for an operator, with the fact in the order's history.
 */
async function unconfirmed(
  deps: CallbackDeps,
  fact: ProviderFact,
  order: Order,
  why: string,
): Promise<CallbackResult> {
  const current = (await ledgerCall(() => deps.ledger.getOrder(order))) ?? order;
  if (
    current.providerOrderId === fact.providerOrderId &&
    current.state === 'failed' &&
    fact.outcome === 'success'
  ) {
    return toReview(deps, fact, current, why);
  }
  const note = `${fact.says} not confirmed: ${why}; not applied (${orderRef(current)} is ${current.state})`;
  const written = await ledgerCall(() =>
    deps.ledger.appendHistory(current, {
      at: nowIso(deps),
      source: 'callback',
      note,
      providerStatus: fact.providerStatus,
    }),
  );
  return { outcome: 'not_confirmed', note, order: written.applied ? written.order : current };
}

/** The order goes to a person with the callback's claim in the note (pinned to its attempt). */
async function toReview(
  deps: CallbackDeps,
  fact: ProviderFact,
  order: Order,
  why: string,
): Promise<CallbackResult> {
  for (let round = 0; round < 4; round++) {
    const current = round === 0 ? order : await ledgerCall(() => deps.ledger.getOrder(order));
    if (!current) break;
    const state = current.state;
    const note = `${fact.says} about ${orderRef(current)} could not be confirmed: ${why}; an operator decides`;
    if (
      current.providerOrderId !== fact.providerOrderId ||
      (state !== 'processing' && state !== 'pending' && state !== 'failed')
    ) {
      // Settled or moved on meanwhile: the one rule decides on it as it is now, as an unproven fact.
      const again = await applyFact(deps, current, fact);
      if (again.kind === 'needs_proof') continue;
      if (again.kind === 'applied' || again.kind === 'rerouted')
        return { outcome: 'applied', note: again.note, order: again.order };
      if (again.kind === 'recorded')
        return { outcome: again.conflict ? 'conflict' : 'no_change', note: again.note, order: again.order };
      return { outcome: 'no_change', note: `the order is ${again.order.state}`, order: again.order };
    }
    const moved = await transitionOrder(deps, current, {
      expect: { state, providerOrderId: current.providerOrderId },
      to: 'manual_review',
      entry: { at: nowIso(deps), source: 'callback', note, providerStatus: fact.providerStatus },
    });
    if (moved) return { outcome: 'applied', note: `${state} -> manual_review: ${why}`, order: moved };
  }
  throw new CallbackRetryError('order changed concurrently', { providerOrderId: fact.providerOrderId });
}

/** How an operator finds the order: `GET /v1/recharges/<orderId>?clientId=<clientId>`. */
function orderRef(order: Order): string {
  return `order ${order.orderId} of client ${order.clientId}`;
}

/** The order changed between our read and write (a concurrent copy): decide again on what it is now. */
async function retryAgainst(
  deps: CallbackDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
  before: Order,
): Promise<CallbackResult> {
  const current = await ledgerCall(() => deps.ledger.getOrder(before));
  if (!current || current.state === before.state)
    throw new CallbackRetryError('order changed concurrently', { callbackId: record.id });
  return decide(deps, record, settings);
}

async function applyReversal(
  deps: CallbackDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
  order: Order,
): Promise<CallbackResult> {
  if (settings.verifyReversals) {
    const provider = deps.providers.get(order.provider);
    const forOperator = async (why: string): Promise<CallbackResult> => {
      const note = `reversal callback for ${orderRef(order)} not confirmed: ${why}; if the provider did reverse it, record it with POST /v1/recharges/${order.orderId}/reverse {"clientId": "${order.clientId}", "callbackId": "${record.id}", "reason": ...}`;
      // In the order's history too: every provider event is, applied or not.
      const written = await ledgerCall(() =>
        deps.ledger.appendHistory(order, {
          at: nowIso(deps),
          source: 'callback',
          note: `callback ${record.status} (${record.id}): ${note}`,
          providerStatus: record.status,
        }),
      );
      return { outcome: 'reversal_not_confirmed', note, order: written.applied ? written.order : order };
    };
    if (!provider) return forOperator(`no provider ${order.provider} is configured to ask`);
    if (!provider.supports.status) return forOperator(`${order.provider} has no status API to ask`);
    // The status API may lag its own callback, or be down: ask again for a while, then a person.
    const waitedMs = (await storeNow(deps)).getTime() - Date.parse(record.receivedAt);
    const giveUp = waitedMs >= (settings.confirmWindowMs ?? DEFAULT_REVERSAL_CONFIRM_WINDOW_MS);
    const waited = `${Math.round(waitedMs / 60_000)} min after it arrived`;
    let answer: Awaited<ReturnType<typeof provider.checkStatus>>;
    try {
      answer = await provider.checkStatus(order.providerOrderId);
    } catch (error) {
      const failureClass = error instanceof ProviderError ? error.failureClass : 'ambiguous';
      if (giveUp) return forOperator(`the status API still did not answer (${failureClass}) ${waited}`);
      throw new CallbackRetryError(`could not confirm the reversal (${failureClass}); will ask again`, {
        callbackId: record.id,
      });
    }
    if (answer.status !== 'failed') {
      if (giveUp) {
        return forOperator(`the status API still reports ${answer.status} (${answer.rawStatus}) ${waited}`);
      }
      throw new CallbackRetryError(
        `reversal not confirmed yet: the status API reports ${answer.status}; will ask again`,
        { callbackId: record.id },
      );
    }
  }
  const reversed = await transitionOrder(deps, order, {
    expect: { state: 'success', providerOrderId: order.providerOrderId },
    to: 'reversed',
    patch: {
      providerStatus: record.status,
      reversal: {
        amount: order.request.amount,
        at: nowIso(deps),
        providerRef: record.providerRef,
        callbackId: record.id,
      },
    },
    entry: {
      at: nowIso(deps),
      source: 'callback',
      note: `dispute reversal${settings.verifyReversals ? ' (confirmed by the status API)' : ''}; amount returned to the provider balance`,
      providerStatus: record.status,
    },
  });
  if (reversed) {
    deps.events?.reversal?.(order.provider, order.request.amount);
    return { outcome: 'applied', note: 'success -> reversed', order: reversed };
  }
  return retryAgainst(deps, record, settings, order);
}
