import {
  assertNever,
  maskNumber,
  type Order,
  type OrderKey,
  type OrderState,
  providerOrderId,
  RechargeflowError,
} from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import { type ProviderAnswer, ProviderError, type RechargeProvider } from '@rechargeflow/providers';
import { rechargeJobId } from '@rechargeflow/queue';
import { nowIso, OPEN_GATE, type WorkerDeps } from './deps.ts';
import { LedgerUnavailableError, ledgerCall, transitionOrder } from './ledger-calls.ts';
import { noStatusApiLookup } from './review-notes.ts';

export interface JobRun {
  /** 1-based run of the job. */
  readonly attempt: number;
  /** No further run will follow if this one asks to be retried. */
  readonly isFinalAttempt: boolean;
}

/** Thrown to ask the queue for another run later: only when nothing was sent. */
export class NotSentRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { retryable: true, context });
  }
}

export type ProcessOutcome =
  | { readonly kind: 'settled' | 'pending' | 'retry_scheduled' | 'rerouted'; readonly order: Order }
  | { readonly kind: 'skipped'; readonly reason: string; readonly state: OrderState };

/**
 * Carries one order through one provider call. Money safety rests on four rules:
 * 1. The order is marked `processing` + `inFlight` in the ledger before the provider is called.
 * 2. A run that finds `processing` + `inFlight` was interrupted mid-call: it never calls again, it
 *    moves the order to `pending` for the status check.
 * 3. Only a call that provably never left (`not_sent`) is tried again, with the same orderid.
 * 4. An order moves to the next provider of its route only after a definite refusal (or before
 *    anything was sent), with a new orderid, in one atomic ledger write.
 */
export async function processRecharge(deps: WorkerDeps, key: OrderKey, run: JobRun): Promise<ProcessOutcome> {
  const claim = await claimForSending(deps, key, run);
  if (claim.kind !== 'claimed') return claim.outcome;
  const order = claim.order;
  const provider = deps.providers.get(order.provider);
  if (!provider) {
    // Configuration error discovered after claiming: nothing was sent, so failing is definite.
    return settle(deps, order, 'failed', {
      note: `no provider named ${order.provider} is configured; not sent`,
    });
  }

  const started = performance.now();
  let answer: ProviderAnswer;
  try {
    answer = await provider.recharge({ providerOrderId: order.providerOrderId, request: order.request });
  } catch (error) {
    const seconds = (performance.now() - started) / 1000;
    return handleCallFailure(deps, order, provider, error, run, seconds);
  }
  deps.events?.providerCall?.(provider.name, 'recharge', answer.status, (performance.now() - started) / 1000);
  await recordCall(deps, provider.name, 'success');
  return applyAnswer(deps, order, provider, answer);
}

function gate(deps: WorkerDeps) {
  return deps.gate ?? OPEN_GATE;
}

/**
 * Tells the circuit breaker how a call went. Its bookkeeping must never cost the answer in hand:
 * a failed write (Redis blip) is logged and the answer is applied anyway, instead of the job
 * failing with the order left in flight.
 */
async function recordCall(deps: WorkerDeps, provider: string, outcome: 'success' | 'failure'): Promise<void> {
  try {
    await gate(deps).record(provider, outcome);
  } catch (error) {
    deps.log.warn(
      { provider, outcome, err: String(error) },
      'circuit breaker not updated; applying the answer anyway',
    );
  }
}

type Claim = { kind: 'claimed'; order: Order } | { kind: 'done'; outcome: ProcessOutcome };

async function claimForSending(deps: WorkerDeps, key: OrderKey, run: JobRun): Promise<Claim> {
  // A few rounds cover a concurrent change between our read and our conditional write.
  for (let round = 0; round < 3; round++) {
    const order = await ledgerCall(() => deps.ledger.getOrder(key));
    if (!order) {
      throw new RechargeflowError('job for an order that is not in the ledger', { context: { ...key } });
    }
    const state = order.state;
    switch (state) {
      case 'queued':
      case 'processing': {
        if (state === 'processing' && order.inFlight) {
          // Interrupted while the provider call may have been in flight (crash, stall, lost
          // ledger write): calling again could charge twice. Let the status check decide.
          const result = await transition(deps, order, {
            expect: { state: 'processing', inFlight: true },
            to: 'pending',
            patch: { inFlight: false },
            entry: {
              at: nowIso(deps),
              source: 'worker',
              note: 'interrupted while the provider call may have been in flight; not sent again, the status check will settle it',
            },
          });
          if (result) return { kind: 'done', outcome: await afterPending(deps, result) };
          continue;
        }
        // Nothing of this order is in flight: choose the provider that may take it now.
        const index = Math.max(0, order.route.indexOf(order.provider));
        const choice = await gate(deps).select(order.route, index, order.request.amount);
        if (choice.provider === null) {
          const outcome = await noProviderNow(deps, order, run, choice.reason);
          if (outcome) return { kind: 'done', outcome };
          continue;
        }
        if (choice.provider !== order.provider) {
          const outcome = await reroute(
            deps,
            order,
            choice.provider,
            choice.index,
            `${order.provider} is not taking orders now`,
          );
          if (outcome) return { kind: 'done', outcome };
          continue;
        }
        const retry = state === 'processing';
        const result = await transition(deps, order, {
          expect: retry ? { state: 'processing', inFlight: false } : { state: 'queued' },
          to: 'processing',
          patch: { inFlight: true, incrementAttempts: true },
          entry: {
            at: nowIso(deps),
            source: 'worker',
            note: `sending to ${order.provider} as ${order.providerOrderId}${retry ? ' (previous attempt was not sent)' : ''}`,
          },
        });
        if (result) return { kind: 'claimed', order: result };
        continue;
      }
      case 'pending':
      case 'success':
      case 'failed':
      case 'reversed':
      case 'manual_review':
        return { kind: 'done', outcome: { kind: 'skipped', reason: `order is ${state}`, state } };
      default:
        return assertNever(state);
    }
  }
  throw new LedgerUnavailableError(new Error('order kept changing while being claimed'));
}

/** No provider of the route may take the order now (breakers open, balances low). Nothing was sent. */
async function noProviderNow(
  deps: WorkerDeps,
  order: Order,
  run: JobRun,
  reason: string,
): Promise<ProcessOutcome | null> {
  if (!run.isFinalAttempt) {
    throw new NotSentRetryError(`no provider can take the order now: ${reason}`, {
      clientId: order.clientId,
      orderId: order.orderId,
    });
  }
  // Give up: first hold the order (claim without sending), then fail it — both say it was never sent.
  const held =
    order.state === 'queued'
      ? await transition(deps, order, {
          expect: { state: 'queued' },
          to: 'processing',
          patch: { inFlight: false },
          entry: { at: nowIso(deps), source: 'worker', note: `no provider can take it: ${reason}` },
        })
      : order;
  if (!held) return null;
  const failed = await transition(deps, held, {
    expect: { state: 'processing', inFlight: false },
    to: 'failed',
    entry: { at: nowIso(deps), source: 'worker', note: `never sent: no provider could take it (${reason})` },
  });
  return failed ? { kind: 'settled', order: failed } : null;
}

/**
 * Moves an order with nothing in flight to `provider` (at `index` of its route) with a new
 * orderid, and hands it to that provider's queue. `null` when the order changed meanwhile.
 */
async function reroute(
  deps: WorkerDeps,
  order: Order,
  provider: string,
  index: number,
  why: string,
): Promise<ProcessOutcome | null> {
  let held: Order | null = order;
  if (order.state === 'queued') {
    held = await transition(deps, order, {
      expect: { state: 'queued' },
      to: 'processing',
      patch: { inFlight: false },
      entry: { at: nowIso(deps), source: 'worker', note: `held for rerouting: ${why}` },
    });
    if (!held) return null;
  }
  const newId = providerOrderId(order, index + 1);
  const switched = await transition(deps, held, {
    expect: { state: 'processing', inFlight: false },
    to: 'processing',
    patch: { switchProvider: { provider, providerOrderId: newId } },
    entry: {
      at: nowIso(deps),
      source: 'worker',
      note: `${why}; routed to ${provider} as ${newId} (nothing was sent to ${held.provider} for it)`,
    },
  });
  if (!switched) return null;
  await handTo(deps, switched);
  return { kind: 'rerouted', order: switched };
}

/** Adds the order's job on its (new) provider's queue; a lost add is repaired by the poller's sweep. */
async function handTo(deps: WorkerDeps, order: Order): Promise<void> {
  const key = { clientId: order.clientId, orderId: order.orderId };
  try {
    await deps.producer.enqueue('recharge', key, rechargeJobId(key, order.provider), order.provider);
  } catch (error) {
    deps.log.warn(
      { ...key, provider: order.provider, err: String(error) },
      'rerouted order recorded; its job will be re-added by the sweep',
    );
  }
}

async function applyAnswer(
  deps: WorkerDeps,
  order: Order,
  provider: RechargeProvider,
  answer: ProviderAnswer,
): Promise<ProcessOutcome> {
  const fields = {
    providerStatus: answer.rawStatus,
    providerTxId: answer.providerTxId,
    providerRef: answer.providerRef,
  };
  switch (answer.status) {
    case 'success':
      return settle(deps, order, 'success', { ...fields, note: `${provider.name} reported success` });
    case 'failed':
      return failOrFailOver(
        deps,
        order,
        `${provider.name} refused: ${answer.message ?? answer.rawStatus}`,
        fields,
      );
    case 'pending':
      return settle(deps, order, 'pending', {
        ...fields,
        note: `${provider.name} accepted; outcome not final yet`,
      });
    case 'not_found':
      // Not a valid answer to a recharge call; it may still have been recorded.
      return settle(deps, order, 'pending', {
        ...fields,
        note: 'unexpected "no record" answer to a recharge; status check will settle it',
      });
    default:
      return assertNever(answer.status);
  }
}

/**
 * A definite refusal: the next provider of the route (if any may take it now) gets the order with
 * a new orderid, in the same ledger write that records the refusal; otherwise the order fails.
 */
async function failOrFailOver(
  deps: WorkerDeps,
  order: Order,
  reason: string,
  fields: {
    providerStatus?: string | undefined;
    providerTxId?: string | undefined;
    providerRef?: string | undefined;
  },
): Promise<ProcessOutcome> {
  const index = order.route.indexOf(order.provider);
  const next =
    index >= 0 && index + 1 < order.route.length ? await nextProvider(deps, order, index + 1) : null;
  if (next && next.provider !== null) {
    const newId = providerOrderId(order, next.index + 1);
    const switched = await transition(deps, order, {
      expect: { state: 'processing', inFlight: true },
      to: 'processing',
      patch: {
        inFlight: false,
        switchProvider: { provider: next.provider, providerOrderId: newId },
        providerStatus: fields.providerStatus,
      },
      entry: {
        at: nowIso(deps),
        source: 'worker',
        note: `${reason}; failing over to ${next.provider} as ${newId}`,
        providerStatus: fields.providerStatus,
      },
    });
    if (switched) {
      await handTo(deps, switched);
      return { kind: 'rerouted', order: switched };
    }
    return skippedAfterConflict(deps, order);
  }
  return settle(deps, order, 'failed', { ...fields, note: reason });
}

/**
 * The provider that may take a refused order next. A gate that cannot be read (a Redis blip on the
 * breakers or balances) must not cost the refusal in hand: the next provider of the route takes it,
 * and its own job asks the gate again before sending.
 */
async function nextProvider(
  deps: WorkerDeps,
  order: Order,
  fromIndex: number,
): Promise<{ provider: string; index: number } | { provider: null; reason: string }> {
  try {
    return await gate(deps).select(order.route, fromIndex, order.request.amount);
  } catch (error) {
    const provider = order.route[fromIndex];
    deps.log.warn(
      { clientId: order.clientId, orderId: order.orderId, next: provider, err: String(error) },
      'provider gate unreadable after a refusal; failing over to the next provider of the route',
    );
    return provider === undefined
      ? { provider: null, reason: 'no provider left in the route' }
      : { provider, index: fromIndex };
  }
}

async function handleCallFailure(
  deps: WorkerDeps,
  order: Order,
  provider: RechargeProvider,
  error: unknown,
  run: JobRun,
  seconds: number,
): Promise<ProcessOutcome> {
  // Anything that is not a classified provider error is treated as ambiguous: we cannot prove
  // the request did not leave.
  const failureClass = error instanceof ProviderError ? error.failureClass : 'ambiguous';
  const reason = error instanceof Error ? error.message : String(error);
  deps.events?.providerCall?.(provider.name, 'recharge', failureClass, seconds);
  await recordCall(deps, provider.name, failureClass === 'failed' ? 'success' : 'failure');
  const logFields = {
    clientId: order.clientId,
    orderId: order.orderId,
    provider: provider.name,
    failureClass,
    reason,
    number: maskNumber(order.request.number),
  };
  switch (failureClass) {
    case 'not_sent': {
      if (run.isFinalAttempt) {
        deps.log.warn(logFields, 'provider unreachable on every attempt; order failed without being sent');
        return settle(deps, order, 'failed', {
          note: `never sent: ${reason} (gave up after ${order.attempts} attempts)`,
        });
      }
      const result = await transition(deps, order, {
        expect: { state: 'processing', inFlight: true },
        to: 'processing',
        patch: { inFlight: false },
        entry: { at: nowIso(deps), source: 'worker', note: `not sent: ${reason}; will retry` },
      });
      if (!result) return skippedAfterConflict(deps, order);
      deps.log.info(logFields, 'provider call not sent; retrying later');
      throw new NotSentRetryError(`not sent: ${reason}`, {
        clientId: order.clientId,
        orderId: order.orderId,
      });
    }
    case 'failed':
      return failOrFailOver(deps, order, `${provider.name} refused: ${reason}`, {});
    case 'ambiguous':
      deps.log.warn(logFields, 'provider outcome unknown; order pending until it is settled');
      return settle(deps, order, 'pending', { note: `outcome unknown: ${reason}` });
    default:
      return assertNever(failureClass);
  }
}

async function settle(
  deps: WorkerDeps,
  order: Order,
  to: 'success' | 'failed' | 'pending',
  fields: {
    note: string;
    providerStatus?: string | undefined;
    providerTxId?: string | undefined;
    providerRef?: string | undefined;
  },
): Promise<ProcessOutcome> {
  const patch = {
    inFlight: false,
    providerStatus: fields.providerStatus,
    providerTxId: fields.providerTxId,
    providerRef: fields.providerRef,
  };
  const result = await transition(deps, order, {
    expect: { state: 'processing', inFlight: true },
    to,
    patch,
    entry: { at: nowIso(deps), source: 'worker', note: fields.note, providerStatus: fields.providerStatus },
  });
  if (result) return to === 'pending' ? afterPending(deps, result) : { kind: 'settled', order: result };
  // The poller may have moved an order it thought stuck to `pending` while our call was still
  // running: a definite answer settles it from there.
  const current = await ledgerCall(() => deps.ledger.getOrder(order));
  if (current?.state === 'pending' && to !== 'pending') {
    const settled = await transition(deps, current, {
      expect: { state: 'pending' },
      to,
      patch: {
        providerStatus: fields.providerStatus,
        providerTxId: fields.providerTxId,
        providerRef: fields.providerRef,
      },
      entry: {
        at: nowIso(deps),
        source: 'worker',
        note: `${fields.note} (answer arrived after the order went pending)`,
        providerStatus: fields.providerStatus,
      },
    });
    if (settled) return { kind: 'settled', order: settled };
  }
  return skippedAfterConflict(deps, order);
}

/**
 * A pending order of a provider with no status API can never be settled automatically: it goes
 * straight to a person, with what they need to look it up in the provider's back office.
 */
async function afterPending(deps: WorkerDeps, order: Order): Promise<ProcessOutcome> {
  const provider = deps.providers.get(order.provider);
  if (!provider || provider.supports.status) return { kind: 'pending', order };
  const lookup = noStatusApiLookup(order);
  const moved = await transition(deps, order, {
    expect: { state: 'pending' },
    to: 'manual_review',
    entry: { at: nowIso(deps), source: 'worker', note: lookup },
  });
  if (moved) {
    deps.log.warn(
      { clientId: order.clientId, orderId: order.orderId, provider: order.provider },
      'ambiguous outcome with no status API: manual review',
    );
    return { kind: 'settled', order: moved };
  }
  return { kind: 'pending', order };
}

async function skippedAfterConflict(deps: WorkerDeps, order: Order): Promise<ProcessOutcome> {
  // Someone else (a callback, an operator) changed the order while we held it; theirs stands.
  const current = await ledgerCall(() => deps.ledger.getOrder(order));
  deps.log.warn(
    { clientId: order.clientId, orderId: order.orderId, state: current?.state },
    'order changed by someone else during the provider call; leaving it as it is',
  );
  return { kind: 'skipped', reason: 'changed concurrently', state: current?.state ?? order.state };
}

/** Every move into `pending` schedules the first status check. */
function transition(deps: WorkerDeps, order: Order, command: TransitionCommand): Promise<Order | null> {
  const withSchedule: TransitionCommand =
    command.to === 'pending' && command.expect.state !== 'pending'
      ? { ...command, patch: { ...command.patch, checkAfterMs: deps.firstCheckAfterMs ?? 30_000 } }
      : command;
  return transitionOrder(deps, order, withSchedule);
}
