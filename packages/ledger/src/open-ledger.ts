import { redisConnectionBasics } from '@rechargeflow/queue';
import { Redis } from 'ioredis';
import type { LedgerStore } from './ledger-store.ts';
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
  /** The Redis ledger's own connection (kind `redis`), for what reads the server itself (INFO memory). */
  readonly redis?: Redis | undefined;
  /** Closes the store and the connection opened for it. */
  close(): Promise<void>;
}

/**
 * The MongoDB ledger store's module, loaded on demand: importing the package never loads mongoose
 * (~40 MB of RSS per process), so the parts on the Redis ledger — the importing worker among them —
 * stay smaller.
 */
export function loadMongoLedgerStore(): Promise<typeof import('./mongo-ledger-store.ts')> {
  return import('./mongo-ledger-store.ts');
}

/** Opens the ledger the configuration asks for, initialised and verified (indexes, eviction policy). */
export async function openLedger(options: OpenLedgerOptions): Promise<OpenLedger> {
  if (options.mongoUrl) {
    // Loaded only here: mongoose costs a process ~40 MB of RSS, which a Redis-ledger part never needs.
    const [{ default: mongoose }, { createMongoLedgerStore }] = await Promise.all([
      import('mongoose'),
      loadMongoLedgerStore(),
    ]);
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
    ...redisConnectionBasics(`${options.appName}:ledger`),
    maxRetriesPerRequest: 3,
    // The ledger's calls of concurrent jobs and requests, issued in the same tick, go out in one
    // write (one syscall, one reply read): less CPU per order in the API and the workers. Not on
    // BullMQ's connections (BullMQ does not support it).
    enableAutoPipelining: true,
  });
  const store = createRedisLedgerStore({ redis, prefix: options.redisPrefix });
  await store.init();
  return {
    store,
    kind: 'redis',
    redis,
    close: async () => {
      await store.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
