import { type Model, Schema } from 'mongoose';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import {
  isDuplicateKeyError,
  type Lean,
  modelOptions,
  type WriteConcernOption,
} from '../mongo/mongo-support.ts';
import { timeMs } from '../shared/time.ts';
import {
  callbackFields,
  callbackId,
  decodeCallback,
  validateCallbackInput,
  validateCallbackLimit,
  validateOutcome,
} from './callback-record.ts';
import type { CallbackInput, CallbackOutcome, CallbackRecord, CallbackStore } from './callback-store.ts';

/** Callbacks: one document each, `_id` its deterministic id (see callbackId). */
export function callbackSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      // The deterministic callback id: a second copy finds the first by it.
      _id: { type: String, required: true },
      provider: { type: String, required: true },
      providerOrderId: { type: String, required: true },
      status: { type: String, required: true },
      providerRef: { type: String },
      receivedAt: { type: String, required: true },
      raw: { type: String, required: true },
      outcome: { type: String, required: true },
      copies: { type: Number, required: true },
      note: { type: String },
      updatedAt: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
    },
    modelOptions(writeConcern),
  );
  schema.index({ outcome: 1, updatedAtMs: 1, _id: 1 }, { name: 'outcome_updated' });
  return schema;
}

export function createMongoCallbackStore(callbacks: Model<Lean>): CallbackStore {
  return {
    async recordCallback(input: CallbackInput) {
      validateCallbackInput(input);
      const id = callbackId(input);
      const upsert = async (): Promise<unknown> =>
        callbacks
          .findOneAndUpdate(
            { _id: id },
            {
              $setOnInsert: {
                ...callbackFields(input),
                outcome: 'received' satisfies CallbackOutcome,
                updatedAt: input.receivedAt,
                updatedAtMs: timeMs(input.receivedAt, 'receivedAt'),
              },
              // A new record starts at 1; a copy adds one and changes nothing else.
              $inc: { copies: 1 },
            },
            { upsert: true, returnDocument: 'after', includeResultMetadata: true },
          )
          .lean()
          .exec();
      let result: unknown;
      try {
        result = await upsert();
      } catch (error) {
        // Two first copies at once: the one that lost the insert finds the record the second time.
        if (!isDuplicateKeyError(error)) throw error;
        result = await upsert();
      }
      // With includeResultMetadata the answer is `{ value, lastErrorObject: { updatedExisting } }`.
      const { value, lastErrorObject } = (result ?? {}) as { value?: unknown; lastErrorObject?: unknown };
      const updatedExisting = (lastErrorObject as { updatedExisting?: unknown } | null | undefined)
        ?.updatedExisting;
      if (typeof value !== 'object' || value === null || typeof updatedExisting !== 'boolean') {
        throw new LedgerCorruptionError('unexpected answer from MongoDB when recording a callback', {
          context: { callbackId: id },
        });
      }
      return { record: toCallback(value as Lean), isNew: !updatedExisting };
    },

    async setCallbackOutcome(id: string, outcome: CallbackOutcome, note: string | undefined, at: string) {
      validateOutcome(outcome);
      const set = { outcome, updatedAt: at, updatedAtMs: timeMs(at, 'at') };
      const result = await callbacks
        .updateOne(
          { _id: id },
          // A note describes the outcome it came with: a new outcome without one drops the old.
          note === undefined ? { $set: set, $unset: { note: 1 } } : { $set: { ...set, note } },
        )
        .exec();
      if (result.matchedCount === 0) throw new RangeError(`no stored callback has the id ${id}`);
    },

    async getCallback(id: string) {
      const doc = await callbacks.findOne({ _id: id }).lean<Lean>().exec();
      return doc === null ? null : toCallback(doc);
    },

    async findCallbacks(outcome: CallbackOutcome, updatedBefore: string, limit: number) {
      validateOutcome(outcome);
      validateCallbackLimit(limit);
      const docs = await callbacks
        .find({ outcome, updatedAtMs: { $lt: timeMs(updatedBefore, 'updatedBefore') } })
        .sort({ updatedAtMs: 1, _id: 1 })
        .limit(limit)
        .lean<Lean[]>()
        .exec();
      return docs.map(toCallback);
    },
  };
}

function toCallback(doc: Lean): CallbackRecord {
  return decodeCallback({ ...doc, id: doc._id });
}
