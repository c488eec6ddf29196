import type { Connection, Model } from 'mongoose';
import { balanceSchema, createMongoBalanceStore } from './balances/mongo-balance-store.ts';
import { BATCH_INDEXES, batchSchema, ROW_INDEXES, rowsSchema } from './batches/mongo-batch-schema.ts';
import { createMongoBatchStore } from './batches/mongo-batch-store.ts';
import { callbackSchema, createMongoCallbackStore } from './callbacks/mongo-callback-store.ts';
import { LedgerConfigurationError } from './ledger-errors.ts';
import type { LedgerStore } from './ledger-store.ts';
import {
  isSameUniqueIndex,
  type Lean,
  ledgerModel,
  mongoContext,
  openDb,
  type WriteConcernOption,
} from './mongo/mongo-support.ts';
import { createMongoOrderRetention } from './orders/mongo-order-retention.ts';
import { ORDER_INDEXES, orderSchema } from './orders/mongo-order-schema.ts';
import { createMongoOrderStore, scheduleLegacyPendingChecks } from './orders/mongo-order-store.ts';
import {
  createMongoWebhookStore,
  webhookDeliveriesSchema,
  webhookEndpointsSchema,
} from './webhooks/mongo-webhook-store.ts';

export interface MongoLedgerStoreOptions {
  /** The caller owns the connection: the store never closes it. */
  readonly connection: Connection;
  /** Default `orders`. */
  readonly collectionName?: string | undefined;
  /** Provider callbacks; default `callbacks`. */
  readonly callbacksCollectionName?: string | undefined;
  /** Provider balance samples; default `balance_samples`. */
  readonly balanceCollectionName?: string | undefined;
  /** Batches; default `batches`. */
  readonly batchesCollectionName?: string | undefined;
  /** Row results of batches, one document per commit; default `batch_rows`. */
  readonly batchRowsCollectionName?: string | undefined;
  /** GridFS bucket of the uploads (`<name>.files`, `<name>.chunks`); default `uploads`. */
  readonly uploadsBucketName?: string | undefined;
  /** Webhook endpoints, one document per client; default `webhook_endpoints`. */
  readonly webhookEndpointsCollectionName?: string | undefined;
  /** Webhook deliveries (expire by a TTL index); default `webhook_deliveries`. */
  readonly webhookDeliveriesCollectionName?: string | undefined;
  /** Write concern of every write; default: the connection's. `majority` on a replica set. */
  readonly writeConcern?: WriteConcernOption;
}

/**
 * The MongoDB ledger: the aggregates' MongoDB stores (orders/, callbacks/, balances/, batches/,
 * webhooks/) over one connection, one model per collection. Every write is a single-document
 * operation, which MongoDB applies atomically (see orders/mongo-order-schema.ts); no
 * multi-document transaction is needed (nor used: they need a replica set). The webhook outbox is
 * written on the order document by the transition's own update.
 */
export function createMongoLedgerStore(options: MongoLedgerStoreOptions): LedgerStore {
  const { connection } = options;
  const ctx = mongoContext(connection, options.writeConcern);
  const collectionName = options.collectionName ?? 'orders';
  const callbacksName = options.callbacksCollectionName ?? 'callbacks';
  const balanceName = options.balanceCollectionName ?? 'balance_samples';
  const batchesName = options.batchesCollectionName ?? 'batches';
  const rowsName = options.batchRowsCollectionName ?? 'batch_rows';
  const bucketName = options.uploadsBucketName ?? 'uploads';
  const endpointsName = options.webhookEndpointsCollectionName ?? 'webhook_endpoints';
  const deliveriesName = options.webhookDeliveriesCollectionName ?? 'webhook_deliveries';

  const model = ledgerModel(
    connection,
    `RechargeflowLedgerOrder_${collectionName}`,
    orderSchema(options.writeConcern),
    collectionName,
  );
  const callbacks = ledgerModel(
    connection,
    `RechargeflowLedgerCallback_${callbacksName}`,
    callbackSchema(options.writeConcern),
    callbacksName,
  );
  const balances = ledgerModel(
    connection,
    `RechargeflowLedgerBalance_${balanceName}`,
    balanceSchema(options.writeConcern),
    balanceName,
  );
  const batches = ledgerModel(
    connection,
    `RechargeflowLedgerBatch_${batchesName}`,
    batchSchema(options.writeConcern),
    batchesName,
  );
  const batchRows = ledgerModel(
    connection,
    `RechargeflowLedgerBatchRows_${rowsName}`,
    rowsSchema(options.writeConcern),
    rowsName,
  );

  const webhookEndpoints = ledgerModel(
    connection,
    `RechargeflowLedgerWebhookEndpoints_${endpointsName}`,
    webhookEndpointsSchema(options.writeConcern),
    endpointsName,
  );
  const webhookDeliveries = ledgerModel(
    connection,
    `RechargeflowLedgerWebhookDeliveries_${deliveriesName}`,
    webhookDeliveriesSchema(options.writeConcern),
    deliveriesName,
  );

  async function clock(): Promise<Date> {
    const db = openDb(connection);
    // `hello` answers the server's own time.
    const reply = await db.command({ hello: 1 });
    const localTime = (reply as { localTime?: unknown }).localTime;
    return localTime instanceof Date ? localTime : new Date(String(localTime));
  }

  const orders = createMongoOrderStore(ctx, model);
  const batchStore = createMongoBatchStore(ctx, { batches, batchRows, orders: model }, bucketName, orders);

  return {
    ...orders,
    ...createMongoOrderRetention(),
    ...createMongoCallbackStore(callbacks),
    ...createMongoBalanceStore(balances),
    ...batchStore.store,
    ...createMongoWebhookStore(
      { endpoints: webhookEndpoints, deliveries: webhookDeliveries, orders: model },
      clock,
    ),

    async init() {
      const collections: readonly (readonly [Model<Lean>, string])[] = [
        [model, collectionName],
        [callbacks, callbacksName],
        [balances, balanceName],
        [batches, batchesName],
        [batchRows, rowsName],
        [webhookEndpoints, endpointsName],
        [webhookDeliveries, deliveriesName],
      ];
      for (const [each, name] of collections) {
        try {
          await each.createIndexes();
        } catch (cause) {
          throw new LedgerConfigurationError(
            `could not create the ledger indexes on MongoDB collection ${name} ` +
              '(an index with the same name or keys but other options may exist; drop it and start again)',
            { cause, context: { collection: name } },
          );
        }
      }
      for (const [each, name, wanted] of [
        [model, collectionName, ORDER_INDEXES],
        [batches, batchesName, BATCH_INDEXES],
        [batchRows, rowsName, ROW_INDEXES],
      ] as const) {
        const existing: unknown[] = await each.listIndexes();
        for (const index of wanted.filter((one) => one.unique)) {
          if (!existing.some((found) => isSameUniqueIndex(found, index.key))) {
            throw new LedgerConfigurationError(
              `MongoDB collection ${name} lacks the unique index ${JSON.stringify(index.key)}; ` +
                'without it a record could be stored twice',
              { context: { collection: name, index: index.name } },
            );
          }
        }
      }
      await batchStore.uploads.createIndexes();
      await scheduleLegacyPendingChecks(model);
    },

    clock,

    async ping() {
      const db = openDb(connection);
      await db.command({ ping: 1 });
    },

    async close() {
      // The connection belongs to the caller.
    },
  };
}
