import { type OrderKey, orderKeyId, providerOrderId } from '@rechargeflow/domain';
import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { asReply, unexpected } from '../redis/replies.ts';
import { listKeyOf } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { milliseconds } from '../shared/validation.ts';
import { OrderArchivedError } from './order-archived-error.ts';
import {
  isArchivableState,
  type OrderRetentionStore,
  type RemoveArchivedCommand,
  type RemoveArchivedResult,
} from './order-retention.ts';
import { requireOrder } from './redis-order-snapshot.ts';
import { REMOVE_ARCHIVED } from './retention-scripts.ts';

/** The Redis side of retention (scripts: retention-scripts.ts; the archive: archive/). */
export function createRedisOrderRetention(ctx: RedisContext): OrderRetentionStore {
  const { redis, keys } = ctx;
  return {
    async removeArchivedOrder(command: RemoveArchivedCommand): Promise<RemoveArchivedResult> {
      const { order } = command;
      if (!isArchivableState(order.state)) {
        throw new RangeError(`an order in state ${order.state} is not archived (not final)`);
      }
      const cutoffMs = timeMs(command.updatedBefore, 'updatedBefore');
      const tombstoneMs = milliseconds(command.tombstoneMs, 'tombstoneMs', 0);
      const keyId = orderKeyId(order);
      // Every claim the order may hold: one per position of its route (a failover claims the
      // next), and the current one; the script keeps only those that are this order's.
      const claims = new Set(order.route.map((_, index) => providerOrderId(order, index + 1)));
      claims.add(order.providerOrderId);
      const reply = await runScript(
        redis,
        REMOVE_ARCHIVED,
        [
          keys.order(keyId),
          keys.history(keyId),
          keys.clientOrders(order.clientId),
          keys.stateUpdated(order.state),
          keys.due,
          ...[...claims].map((claim) => keys.providerOrder(claim)),
        ],
        [
          keyId,
          order.state,
          String(order.version),
          cutoffMs,
          tombstoneMs,
          listKeyOf(keyId, timeMs(order.createdAt, 'createdAt')),
        ],
      );
      const [status] = asReply(reply);
      switch (status) {
        case 'removed':
        case 'changed':
        case 'not_found':
          return status;
        default:
          return unexpected('remove-archived', reply);
      }
    },

    async isArchived(key: OrderKey): Promise<boolean> {
      const keyId = orderKeyId(key);
      // One round trip, one instant: a claim is set in the same script as its order, so a claim of
      // this key without the order is the tombstone retention left.
      const [owner, exists] = (await redis
        .multi()
        .get(keys.providerOrder(providerOrderId(key, 1)))
        .exists(keys.order(keyId))
        .exec()) ?? [
        [null, null],
        [null, null],
      ];
      if (owner?.[0] || exists?.[0]) throw owner?.[0] ?? exists?.[0];
      return owner?.[1] === keyId && exists?.[1] === 0;
    },
  };
}

/**
 * An existing order as the create script answered it. An empty snapshot is a key whose claim
 * stands without its order: retention archived it (the tombstone), so no new order is made.
 */
export function existingOrArchived(snapshot: unknown, key: OrderKey) {
  if (Array.isArray(snapshot) && Array.isArray(snapshot[0]) && snapshot[0].length === 0) {
    throw new OrderArchivedError(key);
  }
  return requireOrder(snapshot);
}
