import {
  assertNever,
  maskNumber,
  type Order,
  type OrderKey,
  type OrderState,
  type ProviderAnswer,
  ProviderError,
  providerOrderId,
  RechargeflowError,
  type RechargeProvider,
} from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import { applyFact, handTo, type ProviderFact } from './apply-fact.ts';
import { nowIso, OPEN_GATE, type WorkerDeps } from './deps.ts';
import { ledgerCall, storeNow, transitionOrder } from './ledger-calls.ts';
import { LedgerUnavailableError } from './ledger-unavailable-error.ts';
import { NotSentRetryError } from './not-sent-retry-error.ts';
import { noStatusApiLookup } from './review-notes.ts';
import { notSentNote, waitIsOver, waitingSince, waitOrGiveUp } from './wait-for-provider.ts';

export interface JobRun {
  /** 1-based run of the job. */
  readonly attempt: number;
  /** No further run will follow if this one asks to be retried. */
  readonly isFinalAttempt: boolean;
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
    return neverSent(deps, order, `no provider named ${order.provider} is configured; not sent`);
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
            expect: { state: 'processing', inFlight: true, providerOrderId: order.providerOrderId },
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
        // A run that comes after the order's wait was over (workers down, a throttled queue) must
        // not send it: its history told the shop it fails then.
        const maxWaitMs = deps.orderMaxWaitMs ?? 0;
        // The ledger's clock is asked only for an order that has waited (one round trip fewer per order).
        if (
          maxWaitMs > 0 &&
          waitingSince(order) !== undefined &&
          waitIsOver(order, await storeNow(deps), maxWaitMs)
        ) {
          const outcome = await noProviderNow(
            deps,
            order,
            run,
            `the wait was over before ${choice.provider} could be tried again`,
          );
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
          expect: {
            ...(retry ? { state: 'processing', inFlight: false } : { state: 'queued' }),
            providerOrderId: order.providerOrderId,
          },
          to: 'processing',
          patch: { inFlight: true, incrementAttempts: true },
          entry: {
            at: nowIso(deps),
            source: 'worker',
            note: `sending to ${order.provider} as ${order.providerOrderId}${retry && order.history.at(-1)?.note?.startsWith('not sent') ? ' (previous attempt was not sent)' : ''}`,
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
  let giveUpNote = notSentNote(order, `no provider could take it (${reason})`);
  const maxWaitMs = deps.orderMaxWaitMs ?? 0;
  if (maxWaitMs > 0) {
    // Waits out the outage (throws to run again later) until ORDER_MAX_WAIT has passed.
    const decision = await waitOrGiveUp(deps, order, reason, maxWaitMs);
    giveUpNote = decision.note;
  } else if (!run.isFinalAttempt) {
    throw new NotSentRetryError(`no provider can take the order now: ${reason}`, {
      clientId: order.clientId,
      orderId: order.orderId,
    });
  }
  // Give up: first hold the order (claim without sending), then fail it — both say it was not sent.
  const held =
    order.state === 'queued'
      ? await transition(deps, order, {
          expect: { state: 'queued', providerOrderId: order.providerOrderId },
          to: 'processing',
          patch: { inFlight: false },
          entry: { at: nowIso(deps), source: 'worker', note: `no provider can take it: ${reason}` },
        })
      : order;
  if (!held) return null;
  const failed = await transition(deps, held, {
    expect: { state: 'processing', inFlight: false, providerOrderId: held.providerOrderId },
    to: 'failed',
    entry: { at: nowIso(deps), source: 'worker', note: giveUpNote },
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
      expect: { state: 'queued', providerOrderId: order.providerOrderId },
      to: 'processing',
      patch: { inFlight: false },
      entry: { at: nowIso(deps), source: 'worker', note: `held for rerouting: ${why}` },
    });
    if (!held) return null;
  }
  const newId = providerOrderId(order, index + 1);
  const switched = await transition(deps, held, {
    expect: { state: 'processing', inFlight: false, providerOrderId: held.providerOrderId },
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

/** The provider's answer to our call: a proven fact about this attempt, applied by the one rule. */
async function applyAnswer(
  deps: WorkerDeps,
  order: Order,
  provider: RechargeProvider,
  answer: ProviderAnswer,
): Promise<ProcessOutcome> {
  const says = (() => {
    switch (answer.status) {
      case 'success':
        return `${provider.name} reported success`;
      case 'failed':
        return `${provider.name} refused: ${answer.message ?? answer.rawStatus}`;
      case 'pending':
        return `${provider.name} accepted; outcome not final yet`;
      case 'not_found':
        // Not a valid answer to a recharge call; it may still have been recorded.
        return 'unexpected "no record" answer to a recharge; status check will settle it';
      default:
        return assertNever(answer.status);
    }
  })();
  return applyWorkerFact(deps, order, {
    source: 'worker',
    providerOrderId: order.providerOrderId,
    outcome: answer.status,
    proven: true,
    says,
    providerStatus: answer.rawStatus,
    providerTxId: answer.providerTxId,
    providerRef: answer.providerRef,
  });
}

/**
 * Applies what the call told us about the attempt this run claimed. When the order changed under
 * the call (a callback, a status check or a sweep got there first), the answer still lands: it
 * settles the attempt from wherever it is now, or is written to the history, never dropped.
 */
async function applyWorkerFact(deps: WorkerDeps, order: Order, fact: ProviderFact): Promise<ProcessOutcome> {
  const result = await applyFact(deps, order, fact);
  switch (result.kind) {
    case 'applied':
      return result.order.state === 'pending'
        ? afterPending(deps, result.order)
        : { kind: 'settled', order: result.order };
    case 'rerouted':
      return { kind: 'rerouted', order: result.order };
    case 'recorded':
      if (result.conflict || result.order.state !== order.state) {
        deps.log.warn(
          { clientId: order.clientId, orderId: order.orderId, state: result.order.state, note: result.note },
          'order changed during the provider call; the answer is recorded in its history',
        );
      }
      return { kind: 'skipped', reason: result.note, state: result.order.state };
    case 'needs_proof':
    case 'reversal':
      // Not for a proven fact; kept total for the type checker.
      return { kind: 'skipped', reason: result.kind, state: result.order.state };
    default:
      return assertNever(result);
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
  const attempt = { source: 'worker', providerOrderId: order.providerOrderId, proven: true } as const;
  switch (failureClass) {
    case 'not_sent': {
      const maxWaitMs = deps.orderMaxWaitMs ?? 0;
      if (maxWaitMs > 0) return notSentWait(deps, order, reason, maxWaitMs, logFields);
      if (run.isFinalAttempt) {
        deps.log.warn(logFields, 'provider unreachable on every attempt; order failed without being sent');
        return neverSent(
          deps,
          order,
          notSentNote(order, `${reason} (gave up after ${order.attempts} attempts)`),
        );
      }
      const result = await transition(deps, order, {
        expect: { state: 'processing', inFlight: true, providerOrderId: order.providerOrderId },
        to: 'processing',
        patch: { inFlight: false },
        entry: { at: nowIso(deps), source: 'worker', note: `not sent: ${reason}; will retry` },
      });
      if (!result) return recordNotSent(deps, order, `not sent: ${reason}`);
      deps.log.info(logFields, 'provider call not sent; retrying later');
      throw new NotSentRetryError(`not sent: ${reason}`, {
        clientId: order.clientId,
        orderId: order.orderId,
      });
    }
    case 'failed':
      return applyWorkerFact(deps, order, {
        ...attempt,
        outcome: 'failed',
        says: `${provider.name} refused: ${reason}`,
      });
    case 'ambiguous':
      deps.log.warn(logFields, 'provider outcome unknown; order pending until it is settled');
      return applyWorkerFact(deps, order, {
        ...attempt,
        outcome: 'pending',
        says: `outcome unknown: ${reason}`,
      });
    default:
      return assertNever(failureClass);
  }
}

/**
 * The call provably never left and orders wait out outages (ORDER_MAX_WAIT): end the call, then
 * wait like an order no provider can take (or, past the deadline, fail it as never sent).
 */
async function notSentWait(
  deps: WorkerDeps,
  order: Order,
  reason: string,
  maxWaitMs: number,
  logFields: Record<string, unknown>,
): Promise<ProcessOutcome> {
  const ended = await transition(deps, order, {
    expect: { state: 'processing', inFlight: true, providerOrderId: order.providerOrderId },
    to: 'processing',
    patch: { inFlight: false },
    entry: { at: nowIso(deps), source: 'worker', note: `not sent: ${reason}; will retry` },
  });
  if (!ended) return recordNotSent(deps, order, `not sent: ${reason}`);
  const decision = await waitOrGiveUp(deps, ended, `${order.provider} unreachable (${reason})`, maxWaitMs);
  deps.log.warn(logFields, 'provider unreachable for ORDER_MAX_WAIT; order failed without being sent');
  const failed = await transition(deps, ended, {
    expect: { state: 'processing', inFlight: false, providerOrderId: ended.providerOrderId },
    to: 'failed',
    entry: { at: nowIso(deps), source: 'worker', note: decision.note },
  });
  return failed ? { kind: 'settled', order: failed } : recordNotSent(deps, ended, decision.note);
}

/** Nothing left our process for this attempt: `failed` as never sent (pinned to the attempt). */
async function neverSent(deps: WorkerDeps, order: Order, note: string): Promise<ProcessOutcome> {
  const failed = await transition(deps, order, {
    expect: { state: 'processing', inFlight: true, providerOrderId: order.providerOrderId },
    to: 'failed',
    patch: { inFlight: false },
    entry: { at: nowIso(deps), source: 'worker', note },
  });
  return failed ? { kind: 'settled', order: failed } : recordNotSent(deps, order, note);
}

/** The order changed while our unsent call ran: theirs stands, and the history says what we saw. */
async function recordNotSent(deps: WorkerDeps, order: Order, note: string): Promise<ProcessOutcome> {
  const current = await ledgerCall(() => deps.ledger.getOrder(order));
  const said = `${note} (attempt ${order.providerOrderId}; the order changed meanwhile, left as it is)`;
  const entry = { at: nowIso(deps), source: 'worker' as const, note: said };
  // Sent to a person while this call ran: it has ended (and provably never left), say so.
  if (
    current?.state === 'manual_review' &&
    current.inFlight &&
    current.providerOrderId === order.providerOrderId
  ) {
    const ended = await transition(deps, current, {
      expect: { state: 'manual_review', inFlight: true, providerOrderId: order.providerOrderId },
      to: 'manual_review',
      patch: { inFlight: false },
      entry,
    });
    if (ended) return { kind: 'skipped', reason: 'changed concurrently', state: ended.state };
  }
  const written = await ledgerCall(() => deps.ledger.appendHistory(order, entry));
  return {
    kind: 'skipped',
    reason: 'changed concurrently',
    state: written.applied || written.reason === 'conflict' ? written.order.state : order.state,
  };
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
    expect: { state: 'pending', providerOrderId: order.providerOrderId },
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

/** Every move into `pending` schedules the first status check. */
function transition(deps: WorkerDeps, order: Order, command: TransitionCommand): Promise<Order | null> {
  const withSchedule: TransitionCommand =
    command.to === 'pending' && command.expect.state !== 'pending'
      ? { ...command, patch: { ...command.patch, checkAfterMs: deps.firstCheckAfterMs } }
      : command;
  return transitionOrder(deps, order, withSchedule);
}
