import { runScript } from '../redis/lua.ts';
import { enc, type RedisContext } from '../redis/redis-keys.ts';
import { asReply, flatToHash, parseStored, unexpected } from '../redis/replies.ts';
import { encodeStaleCursor } from '../shared/cursors.ts';
import {
  byCreation,
  DELIVERY_TTL_MS,
  decodeDelivery,
  decodeEndpoint,
  decodeOutboxEntry,
  deliveryListKey,
  MAX_ATTEMPTS_KEPT,
  notADeliveryCursor,
  validateAttempt,
  validateDelivery,
  validateDeliveryPage,
  validateDeliveryState,
  validateEndpoint,
  validateMaxPerClient,
  validateOutboxLimit,
  validatePendingScan,
  webhookId,
} from './webhook-record.ts';
import {
  CREATE_DELIVERY,
  CREATE_ENDPOINT,
  LIST_DELIVERIES,
  PENDING_MEMBERS,
  RECORD_ATTEMPT,
  REOPEN_DELIVERY,
} from './webhook-scripts.ts';
import type {
  DeliveryAttempt,
  DeliveryState,
  OutboxEntry,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookStore,
} from './webhook-store.ts';

/** Stream ids as Redis makes them: what ackOutbox takes. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** Ids per XDEL. */
const ACK_CHUNK = 1_000;

/**
 * The Redis webhooks (key layout: redis/redis-keys.ts; scripts: webhook-scripts.ts). The outbox is
 * a stream written by the order transition script; reading it takes nothing, XDEL acknowledges.
 */
export function createRedisWebhookStore(ctx: RedisContext): WebhookStore {
  const { redis, keys } = ctx;

  return {
    async createEndpoint(endpoint: WebhookEndpoint, maxPerClient: number) {
      const stored = validateEndpoint(endpoint);
      const max = validateMaxPerClient(maxPerClient);
      const reply = await runScript(
        redis,
        CREATE_ENDPOINT,
        [keys.webhookEndpoints(stored.clientId)],
        [stored.id, JSON.stringify(stored), max],
      );
      const [status] = asReply(reply);
      switch (status) {
        case 'created':
          return stored;
        case 'full':
          return null;
        case 'id_taken':
          throw new RangeError(`the client already has an endpoint with the id ${stored.id}`);
        default:
          return unexpected('create-endpoint', reply);
      }
    },

    async listEndpoints(clientId: string) {
      const all = await redis.hvals(keys.webhookEndpoints(clientId));
      return all.map(parseEndpoint).sort(byCreation);
    },

    async getEndpoint(clientId: string, endpointId: string) {
      const json = await redis.hget(keys.webhookEndpoints(clientId), endpointId);
      return json === null ? null : parseEndpoint(json);
    },

    async deleteEndpoint(clientId: string, endpointId: string) {
      return (await redis.hdel(keys.webhookEndpoints(clientId), endpointId)) === 1;
    },

    async readOutbox(limit: number): Promise<readonly OutboxEntry[]> {
      const count = validateOutboxLimit(limit);
      const entries = await redis.xrange(keys.webhookOutbox, '-', '+', 'COUNT', count);
      return entries.map(([id, flat]) => {
        const fields = flatToHash(flat);
        const batches = fields.batches;
        return decodeOutboxEntry({
          id,
          clientId: fields.clientId,
          orderId: fields.orderId,
          version: fields.version,
          state: fields.state,
          // The entry id is `<server ms>-<seq>`; entries written before carry `at` too.
          atMs: fields.at ?? id.slice(0, id.indexOf('-')),
          batchId: fields.batchId,
          batchIds:
            typeof batches === 'string'
              ? batches.split(' ').filter(Boolean).map(decodeURIComponent)
              : undefined,
        });
      });
    },

    async ackOutbox(ids: readonly string[]) {
      for (const id of ids) {
        if (typeof id !== 'string' || !STREAM_ID.test(id)) {
          throw new RangeError(`not an outbox entry id: ${JSON.stringify(id)}`);
        }
      }
      for (let start = 0; start < ids.length; start += ACK_CHUNK) {
        await redis.xdel(keys.webhookOutbox, ...ids.slice(start, start + ACK_CHUNK));
      }
    },

    async createDelivery(delivery: WebhookDelivery) {
      const { createdAtMs, updatedAtMs, subject, attempts } = validateDelivery(delivery);
      const listMember = deliveryListKey(createdAtMs, enc(delivery.id));
      const fields: Record<string, string> = {
        id: delivery.id,
        endpointId: delivery.endpointId,
        clientId: delivery.clientId,
        eventId: delivery.eventId,
        type: delivery.type,
        subject: JSON.stringify(subject),
        createdAt: delivery.createdAt,
        state: delivery.state,
        updatedAtMs: String(updatedAtMs),
        listMember,
      };
      const reply = await runScript(
        redis,
        CREATE_DELIVERY,
        [
          keys.webhookDelivery(delivery.id),
          keys.webhookAttempts(delivery.id),
          keys.endpointDeliveries(delivery.endpointId),
          keys.webhookPending,
        ],
        [
          DELIVERY_TTL_MS,
          listMember,
          keys.deliveryKeyPrefix,
          attempts.length,
          ...attempts.map((attempt) => JSON.stringify(attempt)),
          ...Object.entries(fields).flat(),
        ],
      );
      if (!Array.isArray(reply) || (reply[0] !== 'created' && reply[0] !== 'exists')) {
        return unexpected('create-delivery', reply);
      }
      return { delivery: decodeStoredDelivery(reply[1], reply[2]), isNew: reply[0] === 'created' };
    },

    async getDelivery(deliveryId: string) {
      webhookId(deliveryId, 'delivery id');
      const [[hashError, flat], [listError, attempts]] = ((await redis
        .multi()
        .hgetall(keys.webhookDelivery(deliveryId))
        .lrange(keys.webhookAttempts(deliveryId), 0, -1)
        .exec()) ?? []) as [[Error | null, unknown], [Error | null, unknown]];
      if (hashError) throw hashError;
      if (listError) throw listError;
      const hash = flat as Record<string, string>;
      if (Object.keys(hash).length === 0) return null;
      return decodeHash(hash, attempts);
    },

    async recordAttempt(deliveryId: string, attempt: DeliveryAttempt, state: DeliveryState) {
      webhookId(deliveryId, 'delivery id');
      const stored = validateAttempt(attempt);
      validateDeliveryState(state);
      const reply = await runScript(
        redis,
        RECORD_ATTEMPT,
        [keys.webhookDelivery(deliveryId), keys.webhookAttempts(deliveryId), keys.webhookPending],
        [JSON.stringify(stored), state, Date.parse(stored.at), MAX_ATTEMPTS_KEPT, enc(deliveryId)],
      );
      if (!Array.isArray(reply)) return unexpected('record-attempt', reply);
      if (reply[0] === 'not_found') return null;
      // `unchanged`: not pending (another run ended it); answered as stored.
      if (reply[0] !== 'updated' && reply[0] !== 'unchanged') return unexpected('record-attempt', reply);
      return decodeStoredDelivery(reply[1], reply[2]);
    },

    async reopenDelivery(deliveryId: string) {
      webhookId(deliveryId, 'delivery id');
      const reply = await runScript(
        redis,
        REOPEN_DELIVERY,
        [keys.webhookDelivery(deliveryId), keys.webhookAttempts(deliveryId), keys.webhookPending],
        [enc(deliveryId)],
      );
      if (!Array.isArray(reply)) return unexpected('reopen-delivery', reply);
      if (reply[0] === 'not_found') return null;
      if (reply[0] !== 'reopened') return unexpected('reopen-delivery', reply);
      return decodeStoredDelivery(reply[1], reply[2]);
    },

    async scanPendingDeliveries(updatedBefore: string, limit: number, cursor?: string | undefined) {
      const { before, limit: want, after } = validatePendingScan(updatedBefore, limit, cursor);
      // Members of one score are in byte order, so (score, member) is a strict position; ties at
      // the cursor's score are skipped here (Lua's string order follows the server's locale).
      const positions: { member: string; ms: number }[] = [];
      let offset = 0;
      let exhausted = false;
      while (positions.length <= want && !exhausted) {
        const ask = want + 1 - positions.length;
        const flat = await redis.zrangebyscore(
          keys.webhookPending,
          after === undefined ? '-inf' : String(after.ms),
          `(${before}`,
          'WITHSCORES',
          'LIMIT',
          offset,
          ask,
        );
        offset += flat.length / 2;
        exhausted = flat.length / 2 < ask;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const member = flat[i]!;
          const ms = Number(flat[i + 1]);
          if (after !== undefined && ms === after.ms && member <= after.tie) continue;
          positions.push({ member, ms });
        }
      }
      const page = positions.slice(0, want);
      const pending =
        page.length === 0
          ? []
          : await runScript(
              redis,
              PENDING_MEMBERS,
              [keys.webhookPending],
              [keys.deliveryKeyPrefix, ...page.map((p) => p.member)],
            );
      if (!Array.isArray(pending)) return unexpected('pending-members', pending);
      const ids = pending.map((member) => decodeURIComponent(String(member)));
      const last = page.at(-1);
      return positions.length > want && last !== undefined
        ? { ids, nextCursor: encodeStaleCursor({ ms: last.ms, tie: last.member }) }
        : { ids };
    },

    async listDeliveries(endpointId: string, page) {
      const { limit, after } = validateDeliveryPage(page);
      const reply = await runScript(
        redis,
        LIST_DELIVERIES,
        [keys.endpointDeliveries(endpointId)],
        [after === undefined ? '' : enc(after), limit + 1, keys.deliveryKeyPrefix],
      );
      const [status, found] = asReply(reply);
      if (status === 'bad_after') throw notADeliveryCursor();
      if (status !== 'listed' || !Array.isArray(found)) return unexpected('list-deliveries', reply);
      const deliveries = found.slice(0, limit).map((snapshot: unknown) => {
        if (!Array.isArray(snapshot)) return unexpected('list-deliveries', reply);
        return decodeStoredDelivery(snapshot[0], snapshot[1]);
      });
      const last = deliveries.at(-1);
      return found.length > limit && last !== undefined ? { deliveries, next: last.id } : { deliveries };
    },
  };
}

function parseEndpoint(json: string): WebhookEndpoint {
  const raw = parseStored(json, 'stored webhook endpoint is not JSON');
  if (typeof raw !== 'object' || raw === null) return unexpected('webhook endpoint', raw);
  return decodeEndpoint(raw as Record<string, unknown>);
}

/** A script's `{HGETALL (flat), attempts list}` → WebhookDelivery. */
function decodeStoredDelivery(flat: unknown, attempts: unknown): WebhookDelivery {
  return decodeHash(flatToHash(flat), attempts);
}

function decodeHash(hash: Record<string, unknown>, attempts: unknown): WebhookDelivery {
  if (!Array.isArray(attempts)) return unexpected('webhook delivery', attempts);
  return decodeDelivery(
    { ...hash, subject: parseStored(hash.subject, 'stored webhook delivery has an invalid subject') },
    attempts.map((each) => parseStored(each, 'stored webhook delivery has an invalid attempt')),
  );
}
