import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import type { LedgerStore } from './ledger-store.ts';
import { createMongoLedgerStore } from './mongo-ledger-store.ts';
import { createRedisLedgerStore } from './redis-ledger-store.ts';

export interface OpenLedgerOptions {
  readonly redisUrl: string;
  /** When set, the ledger is MongoDB; otherwise Redis. */
  readonly mongoUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly appName: string;
}

export interface OpenLedger {
  readonly store: LedgerStore;
  readonly kind: 'redis' | 'mongo';
  /** Closes the store and the connection opened for it. */
  close(): Promise<void>;
}

/** Opens the ledger the configuration asks for, initialised and verified (indexes, eviction policy). */
export async function openLedger(options: OpenLedgerOptions): Promise<OpenLedger> {
  if (options.mongoUrl) {
    const connection = await mongoose
      .createConnection(options.mongoUrl, {
        serverSelectionTimeoutMS: 5_000,
        appName: `rechargeflow-${options.appName}`,
      })
      .asPromise();
    const store = createMongoLedgerStore({ connection, writeConcern: 'majority' });
    await store.init();
    return {
      store,
      kind: 'mongo',
      close: async () => {
        await store.close();
        await connection.close();
      },
    };
  }
  const redis = new Redis(options.redisUrl, {
    connectionName: `rechargeflow:${options.appName}:ledger`,
    maxRetriesPerRequest: 3,
  });
  const store = createRedisLedgerStore({ redis, prefix: options.redisPrefix });
  await store.init();
  return {
    store,
    kind: 'redis',
    close: async () => {
      await store.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
