import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { parseStored, record } from '../redis/replies.ts';
import { timeMs } from '../shared/time.ts';
import { decodeBalanceSample, validateBalanceSample } from './balance-record.ts';
import { RECORD_BALANCE } from './balance-scripts.ts';
import type { BalanceSample, BalanceStore } from './balance-store.ts';

/** The Redis balance samples: a by-time set per provider (redis/redis-keys.ts). */
export function createRedisBalanceStore(ctx: RedisContext): BalanceStore {
  const { redis, keys } = ctx;
  return {
    async recordBalance(sample: BalanceSample) {
      const atMs = validateBalanceSample(sample);
      const stored: BalanceSample = { provider: sample.provider, balance: sample.balance, at: sample.at };
      await runScript(
        redis,
        RECORD_BALANCE,
        [keys.balance(sample.provider), keys.balanceSeq],
        [atMs, JSON.stringify(stored)],
      );
    },

    async balanceAt(provider: string, at: string) {
      const atMs = timeMs(at, 'at');
      // Highest time at or before `at`; among one millisecond's samples the last recorded.
      const [member] = await redis.zrevrangebyscore(keys.balance(provider), atMs, '-inf', 'LIMIT', 0, 1);
      if (member === undefined) return null;
      const json = member.slice(member.indexOf('|') + 1);
      return decodeBalanceSample(record(parseStored(json, 'stored balance sample is invalid')));
    },
  };
}
