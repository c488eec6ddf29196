import { type Model, Schema } from 'mongoose';
import { type Lean, modelOptions, type WriteConcernOption } from '../mongo/mongo-support.ts';
import { timeMs } from '../shared/time.ts';
import { decodeBalanceSample, validateBalanceSample } from './balance-record.ts';
import type { BalanceSample, BalanceStore } from './balance-store.ts';

/** Balance samples: one document each, never replaced. */
export function balanceSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      provider: { type: String, required: true },
      balance: { type: Number, required: true },
      at: { type: String, required: true },
      atMs: { type: Number, required: true },
    },
    modelOptions(writeConcern),
  );
  // Latest at or before a time; `_id` (insertion order) breaks ties within one millisecond.
  schema.index({ provider: 1, atMs: -1, _id: -1 }, { name: 'provider_at' });
  return schema;
}

export function createMongoBalanceStore(balances: Model<Lean>): BalanceStore {
  return {
    async recordBalance(sample: BalanceSample) {
      const atMs = validateBalanceSample(sample);
      await balances.insertOne({ provider: sample.provider, balance: sample.balance, at: sample.at, atMs });
    },

    async balanceAt(provider: string, at: string) {
      const doc = await balances
        .findOne({ provider, atMs: { $lte: timeMs(at, 'at') } })
        .sort({ atMs: -1, _id: -1 })
        .lean<Lean>()
        .exec();
      return doc === null ? null : decodeBalanceSample(doc);
    },
  };
}
