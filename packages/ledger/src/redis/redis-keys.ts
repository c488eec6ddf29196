import type { OrderState } from '@rechargeflow/domain';
import type { Redis } from 'ioredis';
import type { BatchState } from '../batches/batch-store.ts';
import type { CallbackOutcome } from '../callbacks/callback-store.ts';

/** Ids that come from callers, URI-encoded in keys and in the members the scripts parse. */
export const enc = encodeURIComponent;

/**
 * Key layout (P = prefix; ids that come from callers are URI-encoded so `:` cannot forge a key):
 * - `P:order:<keyId>`               hash: the order's fields (request and route JSON-encoded; no
 *                                   route on orders written before routes) and, since layout 3,
 *                                   its history: `h1`..`hN` one JSON entry each, oldest first,
 *                                   `hn` = N (before layout 3: a `listKey` field and a history list)
 * - `P:history:<keyId>`             list: the history of an order written before layout 3, one
 *                                   JSON string each, oldest first (read only when `hn` is absent)
 * - `P:provider-order:<poid>`       string: keyId holding that providerOrderId (the unique claim;
 *                                   set by creation or a failover in the same script as the order's
 *                                   write, never moved or removed, so an id an order had before a
 *                                   failover still leads to it and can never be claimed again). When
 *                                   retention removes the order (orders/retention-scripts.ts) its claims
 *                                   stay as its tombstone, with an expiry: a claim without its order is
 *                                   an archived order
 * - `P:client:<clientId>:orders`    zset, all scores 0, members `listKey` (time:keyId): byte order
 *                                   is creation order, so ZRANGE BYLEX REV pages newest first
 *                                   (a listing by state walks it: there is no per-state list since
 *                                   layout 3; the upgrade removes the old `P:client:<c>:state:<s>`)
 * - `P:state:<s>:updated`           zset, score updatedAt ms, member keyId: findStale
 * - `P:clients`                     set: every client id that has orders (clientId as sent; added by
 *                                   the create scripts with the orders): summaries walk each one's
 *                                   list BYLEX over a time window (before layout 4 a list of every
 *                                   order by creation, `P:orders:created`, which the upgrade removes)
 * - `P:checks:due`                  zset, score nextCheckAt ms (server clock), member keyId: exactly
 *                                   the pending orders; claimDueChecks reads and moves them
 * - `P:callback:<id>`               hash: a provider callback (id = sha256 hex, see callbackId)
 * - `P:callbacks:<outcome>`         zset, score updatedAt ms, member callback id: findCallbacks
 * - `P:balance:<provider>`          zset, score sample time ms, member `<seq>|<sample JSON>`
 * - `P:balance-seq`                 string: the sequence of balance samples
 * - `P:meta:layout`                 string: the key layout version this ledger has been brought to
 * - `P:batch:<batchId>`             hash: a batch's fields + `listKey` (created ms + batchId)
 * - `P:batch:<batchId>:upload:<i>`  string: upload chunk i (raw bytes, ≤ 1 MiB); until the batch
 *                                   is created, with the upload's lease as its expiry
 * - `P:batch:<batchId>:upload-lease` hash: an upload not yet committed: clientId, chunks (highest
 *                                   index + 1), bytes, `s<i>` = chunk i's size; same expiry as its
 *                                   chunks (all renewed by each chunk); removed by createBatch
 * - `P:client:<clientId>:pending-uploads` hash: batch id -> bytes not yet imported (uploads in
 *                                   progress and batches stored/importing; a batch leaves when it
 *                                   is imported)
 * - `P:client:<clientId>:upload-leases` zset, score lease end ms (server clock), member batch id:
 *                                   the client's uploads in progress (an entry run out no longer
 *                                   counts, and is pruned by the client's next chunk or the sweep)
 * - `P:uploads:leases`              zset, score lease end ms, member `<clientId> <batchId>`:
 *                                   sweepUploads (batch ids in these three are URI-encoded)
 * - `P:batch:<batchId>:rows:<row>`  string: one commit's row results (JSON array), from `row` on
 * - `P:batch:<batchId>:row-chunks`  list: the first row of each commit, in commit (= input) order
 * - `P:batch:<batchId>:states`      hash: state → number of member orders in it now
 * - `P:client:<clientId>:batches`   zset, all scores 0, members a batch's `listKey`: newest first
 * - `P:client:<clientId>:batch-content:<contentHash>` string: the batch holding that content
 *                                   (the per-client dedupe claim, never moved or removed)
 * - `P:batches:state:<s>`           zset, score updatedAt ms, member batchId: findBatches
 * - `P:webhook:outbox`              stream: the webhook outbox, one entry per order entering a final
 *                                   state (written by the transition script; XDEL acknowledges)
 * - `P:client:<clientId>:webhooks`  hash: endpoint id -> the endpoint (JSON); HLEN is the cap
 * - `P:webhook:delivery:<id>`       hash: a delivery's fields; expires DELIVERY_TTL_MS after it
 *                                   was stored
 * - `P:webhook:delivery:<id>:attempts` list: its last attempts (JSON), same expiry
 * - `P:webhook:endpoint:<endpointId>:deliveries` zset, all scores 0, members a delivery's list key
 *                                   (created ms + URI-encoded id): newest first BYLEX REV; members
 *                                   of expired deliveries are pruned by createDelivery and lists
 * - `P:webhook:pending`             zset, score updatedAtMs, member URI-encoded delivery id: the
 *                                   pending deliveries (scanPendingDeliveries; members of expired
 *                                   ones are pruned by the scan)
 * Order hashes of batch members hold `batches`: the URI-encoded ids of every batch the order
 * belongs to, space-separated; the create, transition and link scripts keep the batches' state
 * hashes in step with it in the same atomic write.
 * keyId is `orderKeyId({clientId, orderId})` from the domain. Order hashes also hold `statusChecks`
 * and, from the server's clock, `pendingSinceMs` and `nextCheckAtMs` (handed out as ISO).
 */
export function redisKeys(p: string) {
  const keys = {
    order: (keyId: string) => `${p}:order:${keyId}`,
    history: (keyId: string) => `${p}:history:${keyId}`,
    providerOrder: (providerOrderId: string) => `${p}:provider-order:${enc(providerOrderId)}`,
    clientOrders: (clientId: string) => `${p}:client:${enc(clientId)}:orders`,
    stateUpdated: (state: OrderState) => `${p}:state:${state}:updated`,
    clients: `${p}:clients`,
    due: `${p}:checks:due`,
    callback: (id: string) => `${p}:callback:${enc(id)}`,
    callbackIndex: (outcome: CallbackOutcome) => `${p}:callbacks:${outcome}`,
    balance: (provider: string) => `${p}:balance:${enc(provider)}`,
    balanceSeq: `${p}:balance-seq`,
    layout: `${p}:meta:layout`,
    batch: (batchId: string) => `${p}:batch:${enc(batchId)}`,
    upload: (batchId: string, index: number) => `${p}:batch:${enc(batchId)}:upload:${index}`,
    rows: (batchId: string, firstRow: number) => `${p}:batch:${enc(batchId)}:rows:${firstRow}`,
    rowChunks: (batchId: string) => `${p}:batch:${enc(batchId)}:row-chunks`,
    batchStates: (batchId: string) => `${p}:batch:${enc(batchId)}:states`,
    clientBatches: (clientId: string) => `${p}:client:${enc(clientId)}:batches`,
    batchContent: (clientId: string, contentHash: string) =>
      `${p}:client:${enc(clientId)}:batch-content:${enc(contentHash)}`,
    batchesInState: (state: BatchState) => `${p}:batches:state:${state}`,
    uploadLease: (batchId: string) => `${p}:batch:${enc(batchId)}:upload-lease`,
    uploadChunkPrefix: (batchId: string) => `${p}:batch:${enc(batchId)}:upload:`,
    pendingUploads: (clientId: string) => `${p}:client:${enc(clientId)}:pending-uploads`,
    clientUploadLeases: (clientId: string) => `${p}:client:${enc(clientId)}:upload-leases`,
    uploadLeases: `${p}:uploads:leases`,
    webhookOutbox: `${p}:webhook:outbox`,
    webhookEndpoints: (clientId: string) => `${p}:client:${enc(clientId)}:webhooks`,
    webhookDelivery: (deliveryId: string) => `${p}:webhook:delivery:${enc(deliveryId)}`,
    webhookAttempts: (deliveryId: string) => `${p}:webhook:delivery:${enc(deliveryId)}:attempts`,
    endpointDeliveries: (endpointId: string) => `${p}:webhook:endpoint:${enc(endpointId)}:deliveries`,
    webhookPending: `${p}:webhook:pending`,
  };
  /** An upload's member in the sweep's leases: both ids encoded, so the space cannot be forged. */
  const leaseMember = (clientId: string, batchId: string) => `${enc(clientId)} ${enc(batchId)}`;
  // The transition script builds batch-state keys from the ids an order lists: prefix + id + suffix.
  const batchStatesPrefix = `${p}:batch:`;
  // The claim and upgrade scripts build order keys from the ids they find: keys.order(id) = prefix + id.
  const orderKeyPrefix = keys.order('');
  const historyKeyPrefix = keys.history('');
  // Before layout 3 each client had a list per state, `P:client:<c>:state:<s>`: the upgrade removes them.
  const escapedPrefix = p.replace(/[*?[\]\\]/g, '\\$&');
  const oldClientStatePattern = `${escapedPrefix}:client:*:state:*`;
  // The layout 4 upgrade registers every client that has an order list, and removes the creation list.
  const clientOrdersPattern = `${escapedPrefix}:client:*:orders`;
  const oldCreatedList = `${p}:orders:created`;
  // The delivery scripts build delivery keys from index members: prefix + URI-encoded id.
  const deliveryKeyPrefix = keys.webhookDelivery('');
  return {
    ...keys,
    leaseMember,
    batchStatesPrefix,
    orderKeyPrefix,
    historyKeyPrefix,
    deliveryKeyPrefix,
    oldClientStatePattern,
    clientOrdersPattern,
    oldCreatedList,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** What the Redis stores of the aggregates share: the caller's connection and the key layout. */
export interface RedisContext {
  readonly redis: Redis;
  /** Every key starts with `${prefix}:`. */
  readonly prefix: string;
  readonly keys: RedisKeys;
}
