import { orderKeyId } from '@rechargeflow/domain';
import { ProviderOrderIdConflictError } from '../ledger-errors.ts';
import { encodeHistoryEntry } from '../orders/history-encoding.ts';
import { newOrderRecord, storedFingerprint, storedRoute } from '../orders/order-record.ts';
import { requireOrder } from '../orders/redis-order-snapshot.ts';
import { CREATE_CHUNK } from '../orders/redis-order-store.ts';
import { runScript } from '../redis/lua.ts';
import { enc, type RedisContext } from '../redis/redis-keys.ts';
import { unexpected } from '../redis/replies.ts';
import { creationEntry } from '../shared/history-entries.ts';
import { listKeyOf } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { CREATE_BATCH_ORDERS } from './batch-order-scripts.ts';
import type { BatchOrderChunk, BatchOrderResult } from './batch-orders.ts';

const CREATED: BatchOrderResult = { kind: 'created' };
const ARCHIVED: BatchOrderResult = { kind: 'archived' };

/**
 * BatchStore.createBatchOrders on Redis: CREATE_CHUNK orders per script (CREATE_BATCH_ORDERS). Per
 * order only its key id, order id, providerOrderId, route (an index into the chunk's few routes),
 * request and fingerprint travel, and a created order is answered as such, not read back or built
 * as an Order: the import needs no more of it. Every order is checked as createOrders checks it
 * (newOrderRecord) before the first script runs.
 */
export function redisBatchOrders(ctx: RedisContext) {
  const { redis, keys } = ctx;
  return async function createBatchOrders(chunk: BatchOrderChunk): Promise<BatchOrderResult[]> {
    const { clientId, batchId, now } = chunk;
    const nowMs = timeMs(now, 'now');
    const prepared = chunk.orders.map((order) => {
      const provider = order.route[0] ?? '';
      const record = newOrderRecord({ ...order, clientId, provider, batchId, now });
      return {
        order,
        fingerprint: storedFingerprint(order.fingerprint, record.request),
        request: JSON.stringify(record.request),
        route: JSON.stringify(record.route),
        provider,
      };
    });
    const shared = [
      clientId,
      now,
      nowMs,
      listKeyOf('', nowMs),
      encodeHistoryEntry(creationEntry(now)),
      batchId,
      enc(batchId),
    ];
    const sharedKeys = [
      keys.clients,
      keys.stateUpdated('queued'),
      keys.batchStates(batchId),
      keys.clientOrders(clientId),
    ];
    const results: BatchOrderResult[] = [];
    for (let start = 0; start < prepared.length; start += CREATE_CHUNK) {
      const part = prepared.slice(start, start + CREATE_CHUNK);
      const routes = new Map<string, number>();
      const routeArgs: string[] = [];
      const orderKeys: string[] = [];
      const orderArgs: (string | number)[] = [];
      for (const { order, fingerprint, request, route, provider } of part) {
        let routeIndex = routes.get(route);
        if (routeIndex === undefined) {
          routeIndex = routes.size + 1;
          routes.set(route, routeIndex);
          routeArgs.push(provider, storedRoute(route, provider));
        }
        const keyId = orderKeyId({ clientId, orderId: order.orderId });
        orderKeys.push(keys.order(keyId), keys.history(keyId), keys.providerOrder(order.providerOrderId));
        orderArgs.push(keyId, order.orderId, order.providerOrderId, routeIndex, request, fingerprint);
      }
      const reply = await runScript(
        redis,
        CREATE_BATCH_ORDERS,
        [...sharedKeys, ...orderKeys],
        [...shared, routes.size, ...routeArgs, ...orderArgs],
      );
      if (!Array.isArray(reply)) unexpected('create-batch-orders', reply);
      if (reply[0] === 'provider_order_id_taken') {
        const culprit = part[Number(reply[1]) - 1];
        throw new ProviderOrderIdConflictError(culprit?.order.providerOrderId ?? '');
      }
      const answers: unknown = reply[1];
      if (reply[0] !== 'done' || !Array.isArray(answers) || answers.length !== part.length) {
        unexpected('create-batch-orders', reply);
      }
      for (const answer of answers as unknown[]) {
        if (answer === 1) results.push(CREATED);
        // An empty snapshot: the key's claim stands without its order (archived by retention).
        else if (Array.isArray(answer) && Array.isArray(answer[0]) && answer[0].length === 0)
          results.push(ARCHIVED);
        else results.push({ kind: 'existing', order: requireOrder(answer) });
      }
    }
    return results;
  };
}
