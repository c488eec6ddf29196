import { type Model, Schema, Types } from 'mongoose';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import {
  isDuplicateKeyError,
  type Lean,
  modelOptions,
  NOW_MS,
  type WriteConcernOption,
} from '../mongo/mongo-support.ts';
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
import type {
  DeliveryAttempt,
  DeliveryState,
  OutboxEntry,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookStore,
} from './webhook-store.ts';

/**
 * The MongoDB webhooks. Every write is a single-document operation, like the rest of the ledger:
 * - the outbox lives on the order documents (mongo-order-schema.ts: `outbox`, `outboxAtMs`),
 *   appended by the transition's own update; ackOutbox pulls entries out of them;
 * - a client's endpoints are one document (`_id` the client id), so the cap is checked by the
 *   same update that adds one;
 * - a delivery is one document (`_id` its id), its attempts embedded (the last MAX_ATTEMPTS_KEPT),
 *   removed by a TTL index DELIVERY_TTL_MS after it was stored.
 */

/** Outbox entry ids: the order's `_id` (hex), `:`, the version after the transition. */
const OUTBOX_ID = /^([0-9a-f]{24}):(\d{1,15})$/;
/** Ids per acknowledging update. */
const ACK_CHUNK = 1_000;
/** createEndpoint's tries when a concurrent create or delete moves the document under it. */
const ENDPOINT_TRIES = 5;

const endpointSchema = new Schema(
  {
    id: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [String], required: true },
    createdAt: { type: String, required: true },
  },
  { _id: false, id: false, strict: 'throw' },
);

/** One document per client: `_id` the client id, `endpoints` oldest created first. */
export function webhookEndpointsSchema(writeConcern: WriteConcernOption): Schema {
  return new Schema(
    {
      _id: { type: String, required: true },
      endpoints: { type: [endpointSchema], required: true },
    },
    modelOptions(writeConcern),
  );
}

const attemptSchema = new Schema(
  {
    at: { type: String, required: true },
    status: { type: Number },
    error: { type: String },
    durationMs: { type: Number, required: true },
    body: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

const subjectSchema = new Schema(
  {
    kind: { type: String, required: true },
    orderId: { type: String },
    version: { type: Number },
    batchId: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

/** One document per delivery, `_id` its id. */
export function webhookDeliveriesSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      _id: { type: String, required: true },
      endpointId: { type: String, required: true },
      clientId: { type: String, required: true },
      eventId: { type: String, required: true },
      type: { type: String, required: true },
      subject: { type: subjectSchema, required: true },
      createdAt: { type: String, required: true },
      // Creation time (fixed width) + id: the endpoint's list order and the `after` position.
      listKey: { type: String, required: true },
      state: { type: String, required: true },
      attempts: { type: [attemptSchema], required: true },
      updatedAtMs: { type: Number, required: true },
      // The server's clock when stored + DELIVERY_TTL_MS: the TTL index removes it then.
      expiresAt: { type: Date, required: true },
    },
    modelOptions(writeConcern),
  );
  schema.index({ endpointId: 1, listKey: -1 }, { name: 'endpoint_list' });
  // The pending deliveries by last change: scanPendingDeliveries (only they are indexed).
  schema.index(
    { updatedAtMs: 1, _id: 1 },
    { name: 'pending_updated', partialFilterExpression: { state: 'pending' } },
  );
  schema.index({ expiresAt: 1 }, { name: 'expires', expireAfterSeconds: 0 });
  return schema;
}

export interface MongoWebhookModels {
  readonly endpoints: Model<Lean>;
  readonly deliveries: Model<Lean>;
  /** The orders: the outbox lives on them. */
  readonly orders: Model<Lean>;
}

export function createMongoWebhookStore(
  models: MongoWebhookModels,
  /** The server's clock (the ledger's `clock()`): a delivery's expiry counts from it. */
  clock: () => Promise<Date>,
): WebhookStore {
  const { endpoints, deliveries, orders } = models;

  async function clientEndpoints(clientId: string): Promise<WebhookEndpoint[] | null> {
    const doc = await endpoints.findById(clientId).lean<Lean>().exec();
    if (doc === null) return null;
    if (!Array.isArray(doc.endpoints))
      throw new LedgerCorruptionError('stored webhook endpoints are not a list');
    return doc.endpoints.map((each: unknown) => toEndpoint(clientId, each));
  }

  async function findDelivery(deliveryId: string): Promise<WebhookDelivery | null> {
    const doc = await deliveries.findById(deliveryId).lean<Lean>().exec();
    return doc === null ? null : toDelivery(doc);
  }

  return {
    async createEndpoint(endpoint: WebhookEndpoint, maxPerClient: number) {
      const stored = validateEndpoint(endpoint);
      const max = validateMaxPerClient(maxPerClient);
      const { clientId, ...entry } = stored;
      for (let tries = 0; tries < ENDPOINT_TRIES; tries += 1) {
        // The cap and the id's uniqueness are in the filter: checked by the update that adds it.
        const result = await endpoints
          .updateOne(
            {
              _id: clientId,
              'endpoints.id': { $ne: entry.id },
              $expr: { $lt: [{ $size: { $ifNull: ['$endpoints', []] } }, max] },
            },
            { $push: { endpoints: entry } },
          )
          .exec();
        if (result.matchedCount === 1) return stored;
        const current = await clientEndpoints(clientId);
        if (current === null) {
          try {
            await endpoints.insertOne({ _id: clientId, endpoints: [entry] });
            return stored;
          } catch (error) {
            // Another create made the client's document first: try the update again.
            if (!isDuplicateKeyError(error)) throw error;
            continue;
          }
        }
        if (current.some((each) => each.id === entry.id)) {
          throw new RangeError(`the client already has an endpoint with the id ${entry.id}`);
        }
        if (current.length >= max) return null;
        // A delete made room between the update and the read: try again.
      }
      throw new LedgerCorruptionError(
        'could not store a webhook endpoint: the client document kept changing',
        {
          context: { clientId },
        },
      );
    },

    async listEndpoints(clientId: string) {
      return ((await clientEndpoints(clientId)) ?? []).sort(byCreation);
    },

    async getEndpoint(clientId: string, endpointId: string) {
      return (await clientEndpoints(clientId))?.find((each) => each.id === endpointId) ?? null;
    },

    async deleteEndpoint(clientId: string, endpointId: string) {
      const result = await endpoints
        .updateOne(
          { _id: clientId, 'endpoints.id': endpointId },
          { $pull: { endpoints: { id: endpointId } } },
        )
        .exec();
      return result.modifiedCount === 1;
    },

    async readOutbox(limit: number): Promise<readonly OutboxEntry[]> {
      const count = validateOutboxLimit(limit);
      // Every order holds at least one entry, so `count` orders hold at least `count` entries.
      const docs = await orders
        .find(
          { outboxAtMs: { $exists: true } },
          { clientId: 1, orderId: 1, batchId: 1, batchIds: 1, outbox: 1 },
        )
        .sort({ outboxAtMs: 1, _id: 1 })
        .limit(count)
        .lean<Lean[]>()
        .exec();
      const entries: OutboxEntry[] = [];
      for (const doc of docs) {
        if (!Array.isArray(doc.outbox)) throw new LedgerCorruptionError('stored order has an invalid outbox');
        const batchIds = doc.batchIds;
        for (const raw of doc.outbox as Lean[]) {
          const id = raw?.id;
          if (typeof id !== 'string') throw new LedgerCorruptionError('stored outbox entry has no id');
          entries.push(
            decodeOutboxEntry({
              id,
              clientId: doc.clientId,
              orderId: doc.orderId,
              version: raw.version,
              state: raw.state,
              atMs: raw.atMs,
              batchId: doc.batchId,
              batchIds: Array.isArray(batchIds) ? batchIds : undefined,
            }),
          );
        }
      }
      return entries.slice(0, count);
    },

    async ackOutbox(ids: readonly string[]) {
      const orderIds = ids.map((id) => {
        const match = typeof id === 'string' ? OUTBOX_ID.exec(id) : null;
        if (match === null) throw new RangeError(`not an outbox entry id: ${JSON.stringify(id)}`);
        return match[1]!;
      });
      for (let start = 0; start < ids.length; start += ACK_CHUNK) {
        const chunk = ids.slice(start, start + ACK_CHUNK);
        const owners = [...new Set(orderIds.slice(start, start + ACK_CHUNK))].map((hex) =>
          Types.ObjectId.createFromHexString(hex),
        );
        const remaining = { $gt: [{ $size: '$outbox' }, 0] };
        await orders
          .updateMany(
            { _id: { $in: owners }, 'outbox.id': { $in: chunk } },
            [
              {
                $set: {
                  outbox: {
                    $filter: {
                      input: { $ifNull: ['$outbox', []] },
                      cond: { $not: [{ $in: ['$$this.id', { $literal: chunk }] }] },
                    },
                  },
                },
              },
              // Both fields go when the last entry goes, so the outbox index holds only orders with entries.
              {
                $set: {
                  outboxAtMs: { $cond: [remaining, { $min: '$outbox.atMs' }, '$$REMOVE'] },
                  outbox: { $cond: [remaining, '$outbox', '$$REMOVE'] },
                },
              },
            ],
            { updatePipeline: true },
          )
          .exec();
      }
    },

    async createDelivery(delivery: WebhookDelivery) {
      const { createdAtMs, updatedAtMs, subject, attempts } = validateDelivery(delivery);
      const now = (await clock()).getTime();
      const doc = {
        _id: delivery.id,
        endpointId: delivery.endpointId,
        clientId: delivery.clientId,
        eventId: delivery.eventId,
        type: delivery.type,
        subject,
        createdAt: delivery.createdAt,
        listKey: deliveryListKey(createdAtMs, encodeURIComponent(delivery.id)),
        state: delivery.state,
        attempts,
        updatedAtMs,
        expiresAt: new Date(now + DELIVERY_TTL_MS),
      };
      try {
        await deliveries.insertOne(doc);
        return { delivery: toDelivery(doc), isNew: true };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      // Stored before (by a run that crashed, or a concurrent one): answer it unchanged.
      const existing = await findDelivery(delivery.id);
      if (existing === null) {
        throw new LedgerCorruptionError('a webhook delivery refused as a duplicate cannot be found', {
          context: { deliveryId: delivery.id },
        });
      }
      return { delivery: existing, isNew: false };
    },

    async getDelivery(deliveryId: string) {
      webhookId(deliveryId, 'delivery id');
      return findDelivery(deliveryId);
    },

    async recordAttempt(deliveryId: string, attempt: DeliveryAttempt, state: DeliveryState) {
      webhookId(deliveryId, 'delivery id');
      const stored = validateAttempt(attempt);
      validateDeliveryState(state);
      // Only while pending (a delivered attempt also over failed): a stale run writes nothing.
      const writable = state === 'delivered' ? { $in: ['pending', 'failed'] } : 'pending';
      const doc = await deliveries
        .findOneAndUpdate(
          { _id: deliveryId, state: writable },
          {
            $push: { attempts: { $each: [stored], $slice: -MAX_ATTEMPTS_KEPT } },
            $set: { state, updatedAtMs: Date.parse(stored.at) },
          },
          { returnDocument: 'after', upsert: false },
        )
        .lean<Lean>()
        .exec();
      // Not matched: unknown, or ended by another run (answered as stored).
      return doc === null ? findDelivery(deliveryId) : toDelivery(doc);
    },

    async reopenDelivery(deliveryId: string) {
      webhookId(deliveryId, 'delivery id');
      const doc = await deliveries
        .findOneAndUpdate(
          { _id: deliveryId, state: { $ne: 'pending' } },
          [{ $set: { state: { $literal: 'pending' }, updatedAtMs: NOW_MS } }],
          { returnDocument: 'after', upsert: false, updatePipeline: true },
        )
        .lean<Lean>()
        .exec();
      // Not matched: unknown, or pending already (answered as it is).
      return doc === null ? findDelivery(deliveryId) : toDelivery(doc);
    },

    async scanPendingDeliveries(updatedBefore: string, limit: number, cursor?: string | undefined) {
      const { before, limit: want, after } = validatePendingScan(updatedBefore, limit, cursor);
      // (updatedAtMs, _id) is the pending_updated index's order: a strict position.
      const filter: Record<string, unknown> =
        after === undefined
          ? { state: 'pending', updatedAtMs: { $lt: before } }
          : {
              state: 'pending',
              updatedAtMs: { $lt: before },
              $or: [{ updatedAtMs: { $gt: after.ms } }, { updatedAtMs: after.ms, _id: { $gt: after.tie } }],
            };
      const docs = await deliveries
        .find(filter, { _id: 1, updatedAtMs: 1 })
        .sort({ updatedAtMs: 1, _id: 1 })
        .limit(want + 1)
        .lean<Lean[]>()
        .exec();
      const page = docs.slice(0, want);
      const ids = page.map((doc) => String(doc._id));
      const last = page.at(-1);
      return docs.length > want && last !== undefined
        ? { ids, nextCursor: encodeStaleCursor({ ms: last.updatedAtMs as number, tie: String(last._id) }) }
        : { ids };
    },

    async listDeliveries(endpointId: string, page) {
      const { limit, after } = validateDeliveryPage(page);
      const filter: Record<string, unknown> = { endpointId };
      if (after !== undefined) {
        const from = await deliveries.findOne({ _id: after, endpointId }, { listKey: 1 }).lean<Lean>().exec();
        if (from === null || typeof from.listKey !== 'string') throw notADeliveryCursor();
        filter.listKey = { $lt: from.listKey };
      }
      // One more than asked tells whether another page exists.
      const docs = await deliveries
        .find(filter)
        .sort({ listKey: -1 })
        .limit(limit + 1)
        .lean<Lean[]>()
        .exec();
      const shown = docs.slice(0, limit).map(toDelivery);
      const last = shown.at(-1);
      return docs.length > limit && last !== undefined
        ? { deliveries: shown, next: last.id }
        : { deliveries: shown };
    },
  };
}

function toEndpoint(clientId: string, value: unknown): WebhookEndpoint {
  if (typeof value !== 'object' || value === null) {
    throw new LedgerCorruptionError('stored webhook endpoint is not a document');
  }
  return decodeEndpoint({ ...(value as Lean), clientId });
}

function toDelivery(doc: Lean): WebhookDelivery {
  const attempts = doc.attempts;
  if (!Array.isArray(attempts))
    throw new LedgerCorruptionError('stored webhook delivery has no attempts list');
  return decodeDelivery({ ...doc, id: doc._id }, attempts);
}
