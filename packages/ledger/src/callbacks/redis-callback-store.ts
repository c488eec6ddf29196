import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { asReply, flatToHash, record, unexpected } from '../redis/replies.ts';
import { timeMs } from '../shared/time.ts';
import {
  callbackFields,
  callbackId,
  decodeCallback,
  validateCallbackInput,
  validateCallbackLimit,
  validateOutcome,
} from './callback-record.ts';
import { RECORD_CALLBACK, SET_CALLBACK_OUTCOME } from './callback-scripts.ts';
import {
  CALLBACK_OUTCOMES,
  type CallbackInput,
  type CallbackOutcome,
  type CallbackRecord,
  type CallbackStore,
} from './callback-store.ts';

/** The Redis callbacks: a hash per callback, a by-updatedAt set per outcome (redis/redis-keys.ts). */
export function createRedisCallbackStore(ctx: RedisContext): CallbackStore {
  const { redis, keys } = ctx;

  async function readCallbacks(ids: readonly string[]): Promise<(CallbackRecord | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.callback(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return decodeCallbackHash(hash);
    });
  }

  return {
    async recordCallback(input: CallbackInput) {
      validateCallbackInput(input);
      const id = callbackId(input);
      const fields: Record<string, string> = {
        id,
        ...callbackFields(input),
        outcome: 'received' satisfies CallbackOutcome,
        copies: '1',
        updatedAt: input.receivedAt,
      };
      const reply = await runScript(
        redis,
        RECORD_CALLBACK,
        [keys.callback(id), keys.callbackIndex('received')],
        [id, timeMs(input.receivedAt, 'receivedAt'), ...Object.entries(fields).flat()],
      );
      const [status, flat] = asReply(reply);
      if (status !== 'created' && status !== 'exists') unexpected('record-callback', reply);
      const record = decodeCallbackHash(flatToHash(flat));
      if (record === null) return unexpected('record-callback', reply);
      return { record, isNew: status === 'created' };
    },

    async setCallbackOutcome(id: string, outcome: CallbackOutcome, note: string | undefined, at: string) {
      validateOutcome(outcome);
      const atMs = timeMs(at, 'at');
      const reply = await runScript(
        redis,
        SET_CALLBACK_OUTCOME,
        [keys.callback(id), ...CALLBACK_OUTCOMES.map(keys.callbackIndex)],
        [
          id,
          CALLBACK_OUTCOMES.indexOf(outcome) + 2,
          outcome,
          at,
          atMs,
          note === undefined ? '0' : '1',
          note ?? '',
        ],
      );
      const [status] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no stored callback has the id ${id}`);
      if (status !== 'updated') unexpected('set-callback-outcome', reply);
    },

    async getCallback(id: string) {
      const [record] = await readCallbacks([id]);
      return record ?? null;
    },

    async findCallbacks(outcome: CallbackOutcome, updatedBefore: string, limit: number) {
      validateOutcome(outcome);
      validateCallbackLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const ids = await redis.zrangebyscore(
        keys.callbackIndex(outcome),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      const records = await readCallbacks(ids);
      // A callback may change between the index read and the record read: show it only as it is now.
      return records.filter(
        (record): record is CallbackRecord =>
          record !== null && record.outcome === outcome && timeMs(record.updatedAt, 'updatedAt') < before,
      );
    },
  };
}

/** A callback hash (HGETALL as an object) → CallbackRecord; an empty hash is a missing callback. */
function decodeCallbackHash(hash: unknown): CallbackRecord | null {
  const fields = record(hash);
  if (Object.keys(fields).length === 0) return null;
  return decodeCallback({ ...fields, copies: Number(fields.copies) });
}
