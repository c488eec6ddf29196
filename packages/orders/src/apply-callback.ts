import { assertNever, type Order, RechargeflowError } from '@rechargeflow/domain';
import type { CallbackOutcome, CallbackRecord } from '@rechargeflow/ledger';
import { mapA1TopupStatus, ProviderError } from '@rechargeflow/providers';
import { nowIso, type WorkerDeps } from './deps.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';

export interface CallbackSettings {
  /** Confirm a reversal with the provider's status API before applying it (on by default). */
  readonly verifyReversals: boolean;
  /**
   * How long after it arrived a reversal the status API does not (yet) confirm is asked about
   * again, before it is kept as `reversal_not_confirmed` for an operator (default 15 min).
   */
  readonly confirmWindowMs?: number | undefined;
}

export const DEFAULT_REVERSAL_CONFIRM_WINDOW_MS = 15 * 60_000;

/** Asked for another run later (the status API did not answer while verifying a reversal). */
export class CallbackRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { retryable: true, context });
  }
}

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
  deps: WorkerDeps,
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
  deps: WorkerDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
): Promise<CallbackResult> {
  const reported = mapA1TopupStatus(record.status);
  if (!reported)
    return { outcome: 'ignored', note: `status "${record.status}" is not Success, Failure or Pending` };
  const order = await ledgerCall(() => deps.ledger.getOrderByProviderOrderId(record.providerOrderId));
  if (!order)
    return { outcome: 'unknown_order', note: `no order has provider orderid ${record.providerOrderId}` };
  if (reported === 'pending') return { outcome: 'no_change', note: 'callback reports pending', order };
  // An order keeps every orderid it was sent (or held) under, so a late callback still finds it;
  // but only one about its current attempt may move it.
  if (record.providerOrderId !== order.providerOrderId) return earlierAttempt(deps, record, order, reported);

  const entry = (note: string) => ({
    at: nowIso(deps),
    source: 'callback' as const,
    note,
    providerStatus: record.status,
  });
  const patch = { providerStatus: record.status, providerRef: record.providerRef };
  const state = order.state;
  switch (state) {
    case 'queued':
      return { outcome: 'ignored', note: 'callback for an order that was never sent', order };
    case 'processing':
    case 'pending': {
      // A late result: the provider's own books settle the order.
      const moved = await transitionOrder(deps, order, {
        expect: { state },
        to: reported,
        patch: { ...patch, inFlight: false },
        entry: entry(`provider callback: ${reported}`),
      });
      if (moved) return { outcome: 'applied', note: `${state} -> ${reported}`, order: moved };
      return retryAgainst(deps, record, settings, order);
    }
    case 'success': {
      if (reported === 'success') return { outcome: 'no_change', note: 'already success', order };
      return applyReversal(deps, record, settings, order);
    }
    case 'failed':
      if (reported === 'failed') return { outcome: 'no_change', note: 'already failed', order };
      // Money may have left for an order we reported failed: a person must look at it.
      deps.log.error(
        { clientId: order.clientId, orderId: order.orderId, providerOrderId: order.providerOrderId },
        'provider reports success for an order recorded as failed',
      );
      return {
        outcome: 'ignored',
        note: `CONFLICT: provider reports success for ${orderRef(order)}, recorded as failed; check with the provider`,
        order,
      };
    case 'reversed':
      // An operator may have recorded the reversal with this very callback while its job ran.
      if (order.reversal?.callbackId === record.id)
        return { outcome: 'applied', note: 'the order was reversed with this callback', order };
      return { outcome: 'no_change', note: `order already reversed; callback reports ${reported}`, order };
    case 'manual_review':
      return {
        outcome: 'ignored',
        note: `${orderRef(order)} awaits an operator; callback reports ${reported} (shown to the operator)`,
        order,
      };
    default:
      return assertNever(state);
  }
}

/**
 * A callback about an orderid the order has moved on from. The order leaves an attempt only after
 * a definite refusal, or before anything was sent; so a Failure says what we already know, and a
 * Success means money may have left for an attempt we counted as unpaid: a person must look at it.
 * Neither touches an attempt in flight at another provider. One not sent yet is held back (the
 * order goes to manual review through `pending`, which the state machine allows), so a second
 * charge is never made knowingly; an order already pending goes to manual review too.
 */
async function earlierAttempt(
  deps: WorkerDeps,
  record: CallbackRecord,
  order: Order,
  reported: 'success' | 'failed',
): Promise<CallbackResult> {
  const moved = `the order moved on to ${order.provider} as ${order.providerOrderId}`;
  if (reported === 'failed') {
    return {
      outcome: 'no_change',
      note: `failure of an earlier attempt (${record.providerOrderId}); ${moved}`,
      order,
    };
  }
  const conflict = `CONFLICT: provider reports success for an earlier attempt (${record.providerOrderId}) of ${orderRef(order)} that was refused or never sent; ${moved}`;
  deps.log.error(
    {
      clientId: order.clientId,
      orderId: order.orderId,
      providerOrderId: record.providerOrderId,
      currentProviderOrderId: order.providerOrderId,
      state: order.state,
    },
    'provider reports success for an earlier attempt that was refused or never sent',
  );
  const entry = (note: string) => ({
    at: nowIso(deps),
    source: 'callback' as const,
    note,
    providerStatus: record.status,
  });
  let current: Order | null = order;
  if (order.state === 'processing' && !order.inFlight) {
    current = await transitionOrder(deps, order, {
      expect: { state: 'processing', inFlight: false },
      to: 'pending',
      // Due at once, so a poller settles it if the next write never happens.
      patch: { inFlight: false, checkAfterMs: 0 },
      entry: entry(`${conflict}; held: not sent to ${order.provider}`),
    });
  }
  if (current?.state === 'pending') {
    const review = await transitionOrder(deps, current, {
      expect: { state: 'pending' },
      to: 'manual_review',
      entry: entry(`${conflict}; an operator decides (check both providers)`),
    });
    if (review) return { outcome: 'applied', note: `${conflict}; -> manual_review`, order: review };
  }
  return {
    outcome: 'ignored',
    note: `${conflict} (now ${(current ?? order).state}); check with both providers`,
    order,
  };
}

/** How an operator finds the order: `GET /v1/recharges/<orderId>?clientId=<clientId>`. */
function orderRef(order: Order): string {
  return `order ${order.orderId} of client ${order.clientId}`;
}

/** The order changed between our read and write (a concurrent copy): decide again on what it is now. */
async function retryAgainst(
  deps: WorkerDeps,
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
  deps: WorkerDeps,
  record: CallbackRecord,
  settings: CallbackSettings,
  order: Order,
): Promise<CallbackResult> {
  if (settings.verifyReversals) {
    const provider = deps.providers.get(order.provider);
    const forOperator = (why: string): CallbackResult => ({
      outcome: 'reversal_not_confirmed',
      note: `reversal callback for ${orderRef(order)} not confirmed: ${why}; if the provider did reverse it, record it with POST /v1/recharges/${order.orderId}/reverse {"clientId": "${order.clientId}", "callbackId": "${record.id}", "reason": ...}`,
      order,
    });
    if (!provider) return forOperator(`no provider ${order.provider} is configured to ask`);
    if (!provider.supports.status) return forOperator(`${order.provider} has no status API to ask`);
    // The status API may lag its own callback, or be down: ask again for a while, then a person.
    const waitedMs = Date.parse(nowIso(deps)) - Date.parse(record.receivedAt);
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
    expect: { state: 'success' },
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
