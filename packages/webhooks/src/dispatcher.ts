import { batchView } from '@rechargeflow/batches';
import type {
  BatchStore,
  OutboxEntry,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEventType,
  WebhookStore,
} from '@rechargeflow/ledger';
import type { JobProducer } from '@rechargeflow/queue';
import type { WebhookLog, WebhookObserver } from './deliver.ts';
import { ORDER_EVENT_TYPE } from './events.ts';
import { batchEventId, deliveryId, orderEventId } from './ids.ts';

/** What the dispatcher reads and writes in the ledger. */
export type DispatchStore = Pick<
  WebhookStore,
  'readOutbox' | 'ackOutbox' | 'listEndpoints' | 'createDelivery'
> &
  Pick<BatchStore, 'getBatch' | 'batchStates'>;

export interface DispatchDeps {
  readonly store: DispatchStore;
  readonly producer: Pick<JobProducer, 'enqueueBulk'>;
  readonly log: WebhookLog;
  readonly observer?: WebhookObserver | undefined;
  readonly now?: (() => number) | undefined;
}

export interface DispatchRound {
  /** Outbox entries handled (and acknowledged). */
  readonly entries: number;
  /** Deliveries created or found pending, and enqueued. */
  readonly deliveries: number;
}

/** Outbox entries handled per round. */
export const DISPATCH_BATCH = 200;

/**
 * Creates the deliveries of one event for every endpoint of the client subscribed to its type
 * (once: the delivery id is derived from event and endpoint) and returns those still pending, to
 * enqueue. A delivery already delivered or given up is left alone.
 */
async function deliveriesFor(
  store: DispatchStore,
  endpoints: readonly WebhookEndpoint[],
  event: {
    readonly id: string;
    readonly type: WebhookEventType;
    readonly clientId: string;
    readonly createdAt: string;
    readonly subject: WebhookDelivery['subject'];
  },
): Promise<string[]> {
  const pending: string[] = [];
  for (const endpoint of endpoints) {
    if (!endpoint.events.includes(event.type)) continue;
    const id = deliveryId(event.id, endpoint.id);
    const { delivery } = await store.createDelivery({
      id,
      endpointId: endpoint.id,
      clientId: event.clientId,
      eventId: event.id,
      type: event.type,
      subject: event.subject,
      createdAt: event.createdAt,
      state: 'pending',
      attempts: [],
      updatedAt: event.createdAt,
    });
    if (delivery.state === 'pending') pending.push(delivery.id);
  }
  return pending;
}

/**
 * `batch.completed` for a batch, when its import is over (`done`, or `stopped` early) and none of
 * its orders is still moving (`settled`, as GET /v1/batches/:id computes it). Idempotent: the event
 * id is the batch's.
 * Answers the deliveries to enqueue.
 */
async function batchCompletedDeliveries(
  store: DispatchStore,
  endpoints: readonly WebhookEndpoint[],
  clientId: string,
  batchId: string,
): Promise<string[]> {
  if (!endpoints.some((e) => e.events.includes('batch.completed'))) return [];
  const batch = await store.getBatch(clientId, batchId);
  if (!batch) return [];
  const view = await batchView(store, batch);
  if (!view.settled) return [];
  return deliveriesFor(store, endpoints, {
    id: batchEventId(clientId, batchId),
    type: 'batch.completed',
    clientId,
    createdAt: view.updatedAt,
    subject: { kind: 'batch', batchId },
  });
}

async function enqueue(deps: DispatchDeps, ids: readonly string[]): Promise<void> {
  // The job id is the delivery id: BullMQ adds each once, however many dispatchers found it.
  await deps.producer.enqueueBulk(
    'webhook.deliver',
    ids.map((id) => ({ payload: { deliveryId: id }, jobId: id })),
  );
}

/**
 * One round of the dispatcher: reads the oldest outbox entries (each written by the ledger with the
 * order transition it tells of), creates the deliveries of each entry's event for the client's
 * subscribed endpoints, enqueues their `webhook.deliver` jobs, and only then acknowledges the
 * entries — a crash in between leaves them to the next round, which finds the same deliveries by
 * their ids. For entries of a batch, also `batch.completed` once the batch is done. Several
 * dispatchers (one per worker replica) may run at once: every step is idempotent.
 */
export async function dispatchOutbox(deps: DispatchDeps, limit = DISPATCH_BATCH): Promise<DispatchRound> {
  const entries = await deps.store.readOutbox(limit);
  const oldest = entries[0];
  deps.observer?.outboxAge(
    oldest ? Math.max(0, ((deps.now ?? Date.now)() - Date.parse(oldest.at)) / 1000) : 0,
  );
  if (entries.length === 0) return { entries: 0, deliveries: 0 };

  const endpointsOf = new Map<string, Promise<readonly WebhookEndpoint[]>>();
  const endpoints = (clientId: string) => {
    let found = endpointsOf.get(clientId);
    if (!found) {
      found = deps.store.listEndpoints(clientId);
      endpointsOf.set(clientId, found);
    }
    return found;
  };
  const batches = new Map<string, { clientId: string; batchId: string }>();
  // The entries of a round are independent: their ledger round trips overlap (ioredis pipelines).
  const perEntry = await Promise.all(
    entries.map(async (entry) => {
      const subscribed = await endpoints(entry.clientId);
      if (subscribed.length === 0) return [];
      // Every batch the order belongs to (its own, and those a later upload linked it to).
      for (const batchId of entry.batchIds ?? (entry.batchId === undefined ? [] : [entry.batchId]))
        batches.set(`${entry.clientId}\u0000${batchId}`, { clientId: entry.clientId, batchId });
      return deliveriesFor(deps.store, subscribed, {
        id: orderEventId(entry.clientId, entry.orderId, entry.version),
        type: ORDER_EVENT_TYPE[entry.state],
        clientId: entry.clientId,
        createdAt: entry.at,
        subject: { kind: 'order', orderId: entry.orderId, version: entry.version },
      });
    }),
  );
  const toEnqueue = perEntry.flat();
  // A batch is checked once per round, after all of its entries in the round.
  for (const { clientId, batchId } of batches.values()) {
    toEnqueue.push(
      ...(await batchCompletedDeliveries(deps.store, await endpoints(clientId), clientId, batchId)),
    );
  }
  if (toEnqueue.length > 0) await enqueue(deps, toEnqueue);
  await deps.store.ackOutbox(entries.map((e: OutboxEntry) => e.id));
  return { entries: entries.length, deliveries: toEnqueue.length };
}

/**
 * What the importer does once a batch's import ends: announceBatchIfDone, a failure logged rather
 * than thrown (the import itself is done; the batch's last order becoming final announces it too).
 */
export async function announceAfterImport(
  deps: DispatchDeps,
  key: { readonly clientId: string; readonly batchId: string },
): Promise<void> {
  try {
    await announceBatchIfDone(deps, key);
  } catch (error) {
    deps.log.warn({ ...key, err: String(error) }, 'batch.completed could not be checked after the import');
  }
}

/**
 * `batch.completed` for a batch whose import just ended: its last order may have become final
 * before the import was over (so no outbox entry saw it done), or it may have no order at all
 * (every row rejected). Called by the import job; idempotent like the rest.
 */
export async function announceBatchIfDone(
  deps: DispatchDeps,
  key: { readonly clientId: string; readonly batchId: string },
): Promise<number> {
  const endpoints = await deps.store.listEndpoints(key.clientId);
  const ids = await batchCompletedDeliveries(deps.store, endpoints, key.clientId, key.batchId);
  if (ids.length > 0) await enqueue(deps, ids);
  return ids.length;
}

export interface DispatcherSettings {
  /** Pause between rounds while there is work (a full round runs the next one at once). */
  readonly busyMs?: number | undefined;
  /** Longest pause while the outbox stays empty: the pause doubles from busyMs up to this. */
  readonly idleMaxMs?: number | undefined;
  readonly limit?: number | undefined;
}

export interface RunningDispatcher {
  /** Stops the loop after the round in progress (if any) and waits for it. */
  stop(): Promise<void>;
}

/**
 * The dispatcher as a loop in the worker: a round every `busyMs` (250 ms) while entries keep
 * coming, the pause doubling up to `idleMaxMs` (2 s) while the outbox is empty; a failing round (the
 * ledger away) is logged and waits the longest pause.
 */
export function startDispatcher(deps: DispatchDeps, settings: DispatcherSettings = {}): RunningDispatcher {
  const busyMs = settings.busyMs ?? 250;
  const idleMaxMs = settings.idleMaxMs ?? 2_000;
  const limit = settings.limit ?? DISPATCH_BATCH;
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    let pause = busyMs;
    while (!stopped) {
      try {
        const round = await dispatchOutbox(deps, limit);
        if (round.entries > 0)
          deps.log.debug(
            { entries: round.entries, deliveries: round.deliveries },
            'webhook outbox dispatched',
          );
        if (round.entries >= limit) continue;
        pause = round.entries > 0 ? busyMs : Math.min(idleMaxMs, pause * 2);
      } catch (error) {
        deps.log.warn({ err: String(error) }, 'webhook dispatch round failed; trying again');
        pause = idleMaxMs;
      }
      if (!stopped) await sleep(pause);
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
