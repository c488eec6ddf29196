import type { Connection, Model, Schema } from 'mongoose';

/** What the MongoDB stores of the aggregates share. */

/** A lean document as read back: every field checked by the decoders before it becomes a record. */
export type Lean = Record<string, unknown>;

/** Write concern of every write; default: the connection's. `majority` on a replica set. */
export type WriteConcernOption = 'majority' | number | undefined;

export interface MongoContext {
  /** The caller owns the connection: the stores never close it. */
  readonly connection: Connection;
  readonly writeConcern: WriteConcernOption;
  /** The write concern as driver options, spread into the writes made without mongoose. */
  readonly writeOptions: { readonly writeConcern?: { readonly w: 'majority' | number } };
}

export function mongoContext(connection: Connection, writeConcern: WriteConcernOption): MongoContext {
  return {
    connection,
    writeConcern,
    writeOptions: writeConcern === undefined ? {} : { writeConcern: { w: writeConcern } },
  };
}

/** The server's clock as epoch milliseconds (one value for a whole operation). */
export const NOW_MS = { $toDouble: '$$NOW' } as const;

/** Settings every model of the store shares. */
export function modelOptions(writeConcern: WriteConcernOption) {
  return {
    // init() creates and checks the indexes; nothing happens behind the caller's back.
    autoIndex: false,
    autoCreate: false,
    versionKey: false,
    id: false,
    strict: 'throw',
    // The ledger is the system of record: always read what was last written.
    read: 'primary',
    ...(writeConcern === undefined ? {} : { writeConcern: { w: writeConcern } }),
  } as const;
}

/** One model per store; overwriting lets tests and restarts build a store twice on one connection. */
export function ledgerModel(
  connection: Connection,
  name: string,
  schema: Schema,
  collection: string,
): Model<Lean> {
  return connection.model<Lean>(name, schema, collection, { overwriteModels: true });
}

/** The connection's database (`db` exists only once the connection is open). */
export function openDb(connection: Connection): NonNullable<Connection['db']> {
  const { db } = connection;
  if (db === undefined) throw new Error('MongoDB connection is not open');
  return db;
}

export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}

export function isSameUniqueIndex(index: unknown, key: Readonly<Record<string, number>>): boolean {
  if (typeof index !== 'object' || index === null) return false;
  const { key: actual, unique } = index as { key?: unknown; unique?: unknown };
  if (unique !== true || typeof actual !== 'object' || actual === null) return false;
  const actualEntries = Object.entries(actual);
  const wantedEntries = Object.entries(key);
  return (
    actualEntries.length === wantedEntries.length &&
    wantedEntries.every(([field, direction], i) => {
      const entry = actualEntries[i];
      return entry !== undefined && entry[0] === field && Number(entry[1]) === direction;
    })
  );
}
