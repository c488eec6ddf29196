import {
  assertNever,
  maskNumber,
  type Order,
  type OrderKey,
  type OrderState,
  RechargeflowError,
} from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import { type ProviderAnswer, ProviderError, type RechargeProvider } from '@rechargeflow/providers';
import { nowIso, type WorkerDeps } from './deps.ts';
import { LedgerUnavailableError, ledgerCall, transitionOrder } from './ledger-calls.ts';

export interface JobRun {
  /** 1-based run of the job. */
  readonly attempt: number;
  /** No further run will follow if this one asks to be retried. */
  readonly isFinalAttempt: boolean;
}

/** Thrown to ask the queue for another run later: only when the call provably never left. */
export class NotSentRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { retryable: true, context });
  }
}

export type ProcessOutcome =
  | { readonly kind: 'settled' | 'pending' | 'retry_scheduled'; readonly order: Order }
  | { readonly kind: 'skipped'; readonly reason: string; readonly state: OrderState };

/**
 * Carries one order through one provider call. Money safety rests on three rules:
 * 1. The order is marked `processing` + `inFlight` in the ledger before the provider is called.
 * 2. A run that finds `processing` + `inFlight` was interrupted mid-call: it never calls again, it
 *    moves the order to `pending` for the status check.
 * 3. Only a call that provably never left (`not_sent`) is tried again, with the same orderid.
 */
export async function processRecharge(deps: WorkerDeps, key: OrderKey, run: JobRun): Promise<ProcessOutcome> {
  const claim = await claimForSending(deps, key);
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
  return applyAnswer(deps, order, answer);
}

type Claim = { kind: 'claimed'; order: Order } | { kind: 'done'; outcome: ProcessOutcome };

async function claimForSending(deps: WorkerDeps, key: OrderKey): Promise<Claim> {
  // A few rounds cover a concurrent change between our read and our conditional write.
  for (let round = 0; round < 3; round++) {
    const order = await ledgerCall(() => deps.ledger.getOrder(key));
    if (!order) {
      throw new RechargeflowError('job for an order that is not in the ledger', { context: { ...key } });
    }
    const state = order.state;
    switch (state) {
      case 'queued': {
        const result = await transition(deps, order, {
          expect: { state: 'queued' },
          to: 'processing',
          patch: { inFlight: true, incrementAttempts: true },
          entry: { at: nowIso(deps), source: 'worker', note: `sending to ${order.provider}` },
        });
        if (result) return { kind: 'claimed', order: result };
        continue;
      }
      case 'processing': {
        if (order.inFlight) {
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
          if (result) return { kind: 'done', outcome: { kind: 'pending', order: result } };
          continue;
        }
        // The previous run proved its call never left: try again with the same orderid.
        const result = await transition(deps, order, {
          expect: { state: 'processing', inFlight: false },
          to: 'processing',
          patch: { inFlight: true, incrementAttempts: true },
          entry: {
            at: nowIso(deps),
            source: 'worker',
            note: `sending to ${order.provider} again (previous attempt was not sent)`,
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

function applyAnswer(deps: WorkerDeps, order: Order, answer: ProviderAnswer): Promise<ProcessOutcome> {
  const fields = {
    providerStatus: answer.rawStatus,
    providerTxId: answer.providerTxId,
    providerRef: answer.providerRef,
  };
  switch (answer.status) {
    case 'success':
      return settle(deps, order, 'success', { ...fields, note: 'provider reported success' });
    case 'failed':
      return settle(deps, order, 'failed', {
        ...fields,
        note: `provider reported failure${answer.message ? `: ${answer.message}` : ''}`,
      });
    case 'pending':
      return settle(deps, order, 'pending', { ...fields, note: 'provider accepted; outcome not final yet' });
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
      return settle(deps, order, 'failed', { note: `provider refused: ${reason}` });
    case 'ambiguous':
      deps.log.warn(logFields, 'provider outcome unknown; order pending until the status check settles it');
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
  const result = await transition(deps, order, {
    expect: { state: 'processing', inFlight: true },
    to,
    patch: {
      inFlight: false,
      providerStatus: fields.providerStatus,
      providerTxId: fields.providerTxId,
      providerRef: fields.providerRef,
    },
    entry: { at: nowIso(deps), source: 'worker', note: fields.note, providerStatus: fields.providerStatus },
  });
  if (result) return { kind: to === 'pending' ? 'pending' : 'settled', order: result };
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
