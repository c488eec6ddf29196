import { randomUUID } from 'node:crypto';
import { orderKeyId, paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import type { StartedMongoDBContainer } from '@testcontainers/mongodb';
import { type Connection, createConnection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerConfigurationError } from '../src/ledger-errors.ts';
import { createMongoLedgerStore } from '../src/mongo-ledger-store.ts';
import { describeLedgerContract } from './contract/index.ts';
import { dockerEngineAnswers } from './docker-engine.ts';

// MONGO_URL wins; else a throw-away MongoDB in Docker; else a visible skip (never a silent pass).
const MONGO_URL = process.env.MONGO_URL;
const mode = MONGO_URL ? 'url' : (await dockerEngineAnswers()) ? 'docker' : 'skip';

if (mode === 'skip') {
  console.log('MongoDB ledger contract: SKIPPED (no MONGO_URL and no Docker engine)');
  describe.skip('MongoDB ledger contract', () => {
    it('runs where MONGO_URL is set or a Docker engine answers', () => {});
  });
} else {
  // A database of its own, dropped at the end: nothing else on that server is touched.
  const dbName = `rf_ledger_test_${randomUUID().slice(0, 8)}`;
  let connection: Connection;
  let container: StartedMongoDBContainer | undefined;
  let collections = 0;

  const dropCollection = async (name: string): Promise<void> => {
    try {
      await connection.dropCollection(name);
    } catch (error) {
      // 26 = NamespaceNotFound: nothing was written.
      if ((error as { code?: unknown }).code !== 26) throw error;
    }
  };

  beforeAll(async () => {
    let url = MONGO_URL;
    if (url === undefined) {
      const { MongoDBContainer } = await import('@testcontainers/mongodb');
      container = await new MongoDBContainer('mongo:8.0').start();
      // The container is a one-node replica set that names itself by its internal host name.
      url = `${container.getConnectionString()}/?directConnection=true`;
    }
    connection = await createConnection(url, { dbName, serverSelectionTimeoutMS: 10_000 }).asPromise();
  }, 180_000);

  afterAll(async () => {
    try {
      if (connection !== undefined) {
        await connection.dropDatabase();
        await connection.close();
      }
    } finally {
      await container?.stop();
    }
  }, 60_000);

  describeLedgerContract('MongoDB', async () => {
    collections += 1;
    const names = {
      collectionName: `orders_${collections}`,
      callbacksCollectionName: `callbacks_${collections}`,
      balanceCollectionName: `balance_samples_${collections}`,
      batchesCollectionName: `batches_${collections}`,
      batchRowsCollectionName: `batch_rows_${collections}`,
      webhookEndpointsCollectionName: `webhook_endpoints_${collections}`,
      webhookDeliveriesCollectionName: `webhook_deliveries_${collections}`,
    };
    const uploadsBucketName = `uploads_${collections}`;
    const store = createMongoLedgerStore({
      connection,
      ...names,
      uploadsBucketName,
      writeConcern: 'majority',
    });
    await store.init();
    return {
      store,
      async makeLegacy(key) {
        const db = connection.db;
        if (db === undefined) throw new Error('not connected');
        await db
          .collection(names.collectionName)
          .updateOne(
            { clientId: key.clientId, orderId: key.orderId },
            { $unset: { route: '', providerOrderIds: '' } },
          );
      },
      async cleanup() {
        await store.close();
        for (const name of Object.values(names)) await dropCollection(name);
        await dropCollection(`${uploadsBucketName}.files`);
        await dropCollection(`${uploadsBucketName}.chunks`);
      },
    };
  });

  describe('MongoDB ledger store specifics', () => {
    it('init() is idempotent and leaves the unique indexes in place', async () => {
      const collectionName = 'orders_indexes';
      const store = createMongoLedgerStore({ connection, collectionName });
      await store.init();
      await store.init();
      const db = connection.db;
      if (db === undefined) throw new Error('not connected');
      const indexes = await db.collection(collectionName).listIndexes().toArray();
      const unique = indexes.filter((index) => index.unique === true).map((index) => index.key);
      expect(unique).toEqual(
        expect.arrayContaining([
          { clientId: 1, orderId: 1 },
          { providerOrderId: 1 },
          { providerOrderIds: 1 },
        ]),
      );
      // Sparse: orders from before failover have no providerOrderIds and must not clash as null.
      expect(indexes.find((index) => index.name === 'provider_order_ids_unique')?.sparse).toBe(true);
      expect(indexes.map((index) => index.name)).toEqual(
        expect.arrayContaining(['state_next_check', 'created']),
      );
      const callbackIndexes = await db.collection('callbacks').listIndexes().toArray();
      expect(callbackIndexes.map((index) => index.name)).toContain('outcome_updated');
      const balanceIndexes = await db.collection('balance_samples').listIndexes().toArray();
      expect(balanceIndexes.map((index) => index.name)).toContain('provider_at');
      const batchIndexes = await db.collection('batches').listIndexes().toArray();
      expect(batchIndexes.filter((index) => index.unique === true).map((index) => index.key)).toEqual(
        expect.arrayContaining([
          { clientId: 1, contentHash: 1 },
          { clientId: 1, batchId: 1 },
        ]),
      );
      const rowIndexes = await db.collection('batch_rows').listIndexes().toArray();
      expect(rowIndexes.find((index) => index.name === 'batch_first_row_unique')?.unique).toBe(true);
      expect(indexes.map((index) => index.name)).toContain('batch_states');
      const uploadIndexes = await db.collection('uploads.files').listIndexes().toArray();
      expect(uploadIndexes.map((index) => index.name)).toContain('batch_upload_chunks');
      // The outbox index holds only orders with unacknowledged entries; deliveries expire by TTL.
      expect(indexes.find((index) => index.name === 'webhook_outbox')).toMatchObject({
        key: { outboxAtMs: 1, _id: 1 },
        partialFilterExpression: { outboxAtMs: { $exists: true } },
      });
      const deliveryIndexes = await db.collection('webhook_deliveries').listIndexes().toArray();
      expect(deliveryIndexes.find((index) => index.name === 'expires')).toMatchObject({
        key: { expiresAt: 1 },
        expireAfterSeconds: 0,
      });
      expect(deliveryIndexes.map((index) => index.name)).toContain('endpoint_list');
      for (const name of [
        collectionName,
        'callbacks',
        'balance_samples',
        'batches',
        'batch_rows',
        'uploads.files',
        'webhook_endpoints',
        'webhook_deliveries',
      ]) {
        await dropCollection(name);
      }
    });

    it('reads orders written before status checks existed, and schedules their checks at init()', async () => {
      const names = {
        collectionName: 'orders_legacy',
        callbacksCollectionName: 'callbacks_legacy',
        balanceCollectionName: 'balance_samples_legacy',
      };
      const db = connection.db;
      if (db === undefined) throw new Error('not connected');
      const key = { clientId: 'shop-1', orderId: 'old-pending' };
      const request = { operator: 'A', number: '9876543210', amount: 1000 };
      const createdAt = '2026-01-01T00:00:00.000Z';
      // An order as the earlier code wrote it: no statusChecks, pendingSinceMs or nextCheckAtMs.
      await db.collection(names.collectionName).insertOne({
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request,
        fingerprint: requestFingerprint({ ...request, amount: paise(1000) }),
        state: 'pending',
        inFlight: false,
        attempts: 1,
        createdAt,
        updatedAt: createdAt,
        version: 2,
        history: [
          { at: createdAt, from: null, to: 'queued', source: 'api', note: 'order accepted' },
          { at: createdAt, from: 'queued', to: 'pending', source: 'worker' },
        ],
        listKey: `${String(Date.parse(createdAt)).padStart(15, '0')}:${orderKeyId(key)}`,
        updatedAtMs: Date.parse(createdAt),
      });
      const store = createMongoLedgerStore({ connection, ...names });
      await store.init();
      const order = await store.getOrder(key);
      expect(order?.statusChecks).toBe(0);
      // No route, no providerOrderIds: routed to its provider alone, found by its one id.
      expect(order?.route).toStrictEqual(['a1topup']);
      expect(await store.getOrderByProviderOrderId(providerOrderId(key))).toStrictEqual(order);
      expect(order).not.toHaveProperty('pendingSince');
      const claimed = await store.claimDueChecks({ limit: 10, intervalsMs: [60_000] });
      expect(claimed.map((each) => [each.orderId, each.statusChecks])).toEqual([['old-pending', 1]]);
      const [summary] = await store.summarize(createdAt, '2026-01-02T00:00:00.000Z');
      expect(summary).toMatchObject({ provider: 'a1topup', submitted: { count: 1, amount: 1000 } });
      for (const name of Object.values(names)) await dropCollection(name);
    });

    it('counts the stored rows of an interrupted commit instead of a different retry, and never twice', async () => {
      const names = {
        collectionName: 'orders_rows',
        batchesCollectionName: 'batches_rows',
        batchRowsCollectionName: 'batch_rows_rows',
      };
      const store = createMongoLedgerStore({ connection, ...names });
      await store.init();
      await store.createBatch({
        clientId: 'shop-1',
        batchId: 'b_1',
        contentHash: 'h',
        bytes: 1,
        createdAt: '2026-01-01T00:00:00.000Z',
      });
      const row = (n: number) => ({ row: n, cells: { orderId: `o-${n}` }, orderId: `o-${n}` });
      const db = connection.db;
      if (db === undefined) throw new Error('not connected');
      // What a commit of rows 1-3 leaves when it dies between its two writes.
      const interrupted = JSON.stringify([row(1), row(2), row(3)]);
      await db.collection(names.batchRowsCollectionName).insertOne({
        batchId: 'b_1',
        firstRow: 1,
        count: 3,
        accepted: 3,
        rejected: 0,
        digest: 'of another attempt',
        rows: interrupted,
      });
      // The retry chunks differently: its rows are not the stored ones, so it answers false, and
      // the batch counts what is stored.
      expect(await store.commitRows('b_1', [row(1), row(2)], '2026-01-01T00:00:01.000Z')).toBe(false);
      expect(await store.getBatch('shop-1', 'b_1')).toMatchObject({ rowsCommitted: 3, accepted: 3 });
      expect(await store.commitRows('b_1', [row(1), row(2)], '2026-01-01T00:00:02.000Z')).toBe(false);
      expect(await store.commitRows('b_1', [row(4), row(5)], '2026-01-01T00:00:03.000Z')).toBe(true);
      const chunks: unknown[] = [];
      for await (const chunk of store.readRows('b_1')) chunks.push(chunk);
      expect(chunks).toStrictEqual([
        [row(1), row(2), row(3)],
        [row(4), row(5)],
      ]);
      for (const name of Object.values(names)) await dropCollection(name);
    });

    it('init() refuses a collection whose providerOrderId index is not unique', async () => {
      const collectionName = 'orders_bad_index';
      const db = connection.db;
      if (db === undefined) throw new Error('not connected');
      await db
        .collection(collectionName)
        .createIndex({ providerOrderId: 1 }, { name: 'provider_order_id_unique' });
      const store = createMongoLedgerStore({ connection, collectionName });
      await expect(store.init()).rejects.toBeInstanceOf(LedgerConfigurationError);
      await dropCollection(collectionName);
    });
  });
}
