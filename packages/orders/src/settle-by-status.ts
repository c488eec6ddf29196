import { assertNever, type Order, ProviderError } from '@rechargeflow/domain';
import { applyFact } from './apply-fact.ts';
import { nowIso, type WorkerDeps } from './deps.ts';
import { ledgerCall, storeNow, transitionOrder } from './ledger-calls.ts';
import { noStatusApiLookup } from './review-notes.ts';

export interface StatusCheckSettings {
  /** "No record found" right after an ambiguous send is not proof of failure: keep asking this long. */
  readonly notFoundGraceMs: number;
  /** What "no record" means once the grace period is over. */
  readonly notFoundAfterGrace: 'failed' | 'manual_review';
  /** A pending order older than this goes to a person (`manual_review`). */
  readonly maxPendingAgeMs: number;
}

export type StatusCheckOutcome =
  | { readonly kind: 'settled'; readonly order: Order }
  | { readonly kind: 'still_pending'; readonly reason: string }
  | { readonly kind: 'skipped'; readonly reason: string };

/**
 * Asks the provider's status API about one `pending` order and applies what it says. Never sends
 * the recharge again: only the status API or a callback settles a pending order.
 */
export async function checkPendingOrder(
  deps: WorkerDeps,
  order: Order,
  settings: StatusCheckSettings,
  /** The ledger's clock, read once per batch by runStatusChecks; read here when absent. */
  clock?: Date,
): Promise<StatusCheckOutcome> {
  if (order.state !== 'pending') return { kind: 'skipped', reason: `order is ${order.state}` };
  const provider = deps.providers.get(order.provider);
  // The ledger's clock: pendingSince was written by it, whichever host checks.
  const now = clock ?? (await storeNow(deps));
  const ageMs = now.getTime() - Date.parse(order.pendingSince ?? order.updatedAt);
  if (!provider)
    return toManualReview(deps, order, `no provider named ${order.provider} is configured to ask`);
  // Nothing to ask (Telgoo5): the worker hands such orders to a person as they go pending, but one
  // can get here another way (a ledger error after that write, the stuck-order sweep), and
  // waiting out PENDING_MAX_AGE would leave a possibly charged top-up unseen for days.
  if (!provider.supports.status) return toManualReview(deps, order, noStatusApiLookup(order));

  const started = performance.now();
  try {
    const answer = await provider.checkStatus(order.providerOrderId);
    deps.events?.providerCall?.(provider.name, 'status', answer.status, (performance.now() - started) / 1000);
    const fields = {
      providerStatus: answer.rawStatus,
      providerTxId: answer.providerTxId,
      providerRef: answer.providerRef,
    };
    switch (answer.status) {
      case 'success':
      case 'failed': {
        // A proven fact about the attempt: the one rule (a refusal fails over along the route).
        const result = await applyFact(deps, order, {
          source: 'poller',
          providerOrderId: order.providerOrderId,
          outcome: answer.status,
          proven: true,
          says: `status check ${order.statusChecks}: provider reports ${answer.status}${answer.message ? ` (${answer.message})` : ''}`,
          ...fields,
        });
        return result.kind === 'applied' || result.kind === 'rerouted'
          ? { kind: 'settled', order: result.order }
          : { kind: 'skipped', reason: `changed concurrently: ${result.kind}` };
      }
      case 'pending':
        return stillPendingOrReview(deps, order, ageMs, settings, 'provider still reports pending');
      case 'not_found': {
        if (ageMs < settings.notFoundGraceMs) {
          return { kind: 'still_pending', reason: 'provider has no record yet (within the grace period)' };
        }
        const note = `provider has no record of ${order.providerOrderId} ${Math.round(ageMs / 60_000)} min after the send; never resent`;
        if (settings.notFoundAfterGrace === 'manual_review') return toManualReview(deps, order, note);
        const settled = await transitionOrder(deps, order, {
          expect: { state: 'pending', providerOrderId: order.providerOrderId },
          to: 'failed',
          patch: { providerStatus: answer.rawStatus },
          entry: { at: nowIso(deps), source: 'poller', note, providerStatus: answer.rawStatus },
        });
        return settled
          ? { kind: 'settled', order: settled }
          : { kind: 'skipped', reason: 'changed concurrently' };
      }
      default:
        return assertNever(answer.status);
    }
  } catch (error) {
    const failureClass = error instanceof ProviderError ? error.failureClass : 'ambiguous';
    deps.events?.providerCall?.(provider.name, 'status', failureClass, (performance.now() - started) / 1000);
    const reason = `status check failed (${failureClass}): ${error instanceof Error ? error.message : String(error)}`;
    deps.log.warn(
      { clientId: order.clientId, orderId: order.orderId, reason },
      'status check did not answer',
    );
    return stillPendingOrReview(deps, order, ageMs, settings, reason);
  }
}

async function stillPendingOrReview(
  deps: WorkerDeps,
  order: Order,
  ageMs: number,
  settings: StatusCheckSettings,
  reason: string,
): Promise<StatusCheckOutcome> {
  if (ageMs >= settings.maxPendingAgeMs) {
    return toManualReview(
      deps,
      order,
      `pending for ${Math.round(ageMs / 60_000)} min (max age reached); last check: ${reason}`,
    );
  }
  return { kind: 'still_pending', reason };
}

async function toManualReview(deps: WorkerDeps, order: Order, note: string): Promise<StatusCheckOutcome> {
  const moved = await transitionOrder(deps, order, {
    expect: { state: 'pending', providerOrderId: order.providerOrderId },
    to: 'manual_review',
    entry: { at: nowIso(deps), source: 'poller', note },
  });
  if (moved)
    deps.log.warn(
      { clientId: order.clientId, orderId: order.orderId, note },
      'order handed to manual review',
    );
  return moved ? { kind: 'settled', order: moved } : { kind: 'skipped', reason: 'changed concurrently' };
}

/** Claims the orders due a status check (store clock) and checks them, `concurrency` at a time. */
export async function runStatusChecks(
  deps: WorkerDeps,
  settings: StatusCheckSettings & {
    readonly intervalsMs: readonly number[];
    readonly batch: number;
    readonly concurrency: number;
    /**
     * Keep claiming batches while they come back full, until this much time has passed (a backlog
     * after an outage is worked through at the provider's pace, not one batch per sweep). Default
     * 0: one batch.
     */
    readonly budgetMs?: number;
    /** Asked between batches: true once the process is shutting down (stop claiming). */
    readonly shouldStop?: () => boolean;
  },
): Promise<{ readonly checked: number; readonly settled: number; readonly batches: number }> {
  const started = performance.now();
  let checked = 0;
  let settled = 0;
  let batches = 0;
  for (;;) {
    const due = await ledgerCall(() =>
      deps.ledger.claimDueChecks({ limit: settings.batch, intervalsMs: settings.intervalsMs }),
    );
    batches += 1;
    checked += due.length;
    const clock = due.length > 0 ? await storeNow(deps) : undefined;
    let next = 0;
    const lane = async () => {
      while (next < due.length) {
        const order = due[next++]!;
        const outcome = await checkPendingOrder(deps, order, settings, clock).catch((error: unknown) => {
          deps.log.error(
            { clientId: order.clientId, orderId: order.orderId, err: String(error) },
            'status check crashed',
          );
          return null;
        });
        if (outcome?.kind === 'settled') settled++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, due.length) }, lane));
    if (due.length < settings.batch || performance.now() - started >= (settings.budgetMs ?? 0)) break;
    if (settings.shouldStop?.()) break;
  }
  return { checked, settled, batches };
}
