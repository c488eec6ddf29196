import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The Lua scripts of the Redis ledger. Each write is one script, so it is atomic: nothing else runs
 * on the server between the check and the write. The scripts never decode JSON (cjson turns empty
 * arrays into `{}` and rounds large numbers): scalar fields live in a hash, history entries are
 * JSON strings built in TypeScript and appended to a list, and the scripts only compare and copy.
 *
 * Every script answers `{status, snapshot?}` where a snapshot is `{HGETALL of the order, LRANGE of
 * its history}`: the order exactly as the script left it.
 */

export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const lua = `${SNAPSHOT}\n${body}`;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const SNAPSHOT = `local function snapshot(orderKey, historyKey)
  return {redis.call('HGETALL', orderKey), redis.call('LRANGE', historyKey, 0, -1)}
end`;

/**
 * KEYS: order hash, history list, providerOrderId claim, client list, client+state list,
 *       state-by-updatedAt set.
 * ARGV: keyId, list key, updatedAt ms, first history entry (JSON), then hash field/value pairs.
 * Answers: created | exists (+snapshot) | provider_order_id_taken (+ the owner's key id).
 */
export const CREATE_ORDER = script(
  'create-order',
  `if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', snapshot(KEYS[1], KEYS[2])}
end
local owner = redis.call('GET', KEYS[3])
if owner then
  return {'provider_order_id_taken', owner}
end
redis.call('SET', KEYS[3], ARGV[1])
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[4], 0, ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[2])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
return {'created', snapshot(KEYS[1], KEYS[2])}`,
);

/**
 * KEYS: order hash, history list, client+from-state list, client+to-state list,
 *       from-state-by-updatedAt set, to-state-by-updatedAt set.
 * ARGV: expected state, expected inFlight ('' = any, '1', '0'), new state, updatedAt ISO,
 *       updatedAt ms, history entry (JSON), increment attempts ('1'/'0'), key id,
 *       then patch field/value pairs.
 * Answers: applied | conflict (+snapshot) | not_found.
 */
export const TRANSITION = script(
  'transition',
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local current = redis.call('HMGET', KEYS[1], 'state', 'inFlight', 'listKey')
if current[1] ~= ARGV[1] or (ARGV[2] ~= '' and current[2] ~= ARGV[2]) then
  return {'conflict', snapshot(KEYS[1], KEYS[2])}
end
local fields = {'state', ARGV[3], 'updatedAt', ARGV[4]}
for i = 9, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HINCRBY', KEYS[1], 'version', 1)
if ARGV[7] == '1' then
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
redis.call('RPUSH', KEYS[2], ARGV[6])
if KEYS[3] ~= KEYS[4] then
  redis.call('ZREM', KEYS[3], current[3])
  redis.call('ZADD', KEYS[4], 0, current[3])
end
if KEYS[5] ~= KEYS[6] then
  redis.call('ZREM', KEYS[5], ARGV[8])
end
redis.call('ZADD', KEYS[6], ARGV[5], ARGV[8])
return {'applied', snapshot(KEYS[1], KEYS[2])}`,
);

/**
 * KEYS: pairs of (order hash, history list). Answers one snapshot per pair, all taken at the same
 * instant (a missing order has an empty hash).
 */
export const READ_ORDERS = script(
  'read-orders',
  `local result = {}
for i = 1, #KEYS, 2 do
  result[#result + 1] = snapshot(KEYS[i], KEYS[i + 1])
end
return result`,
);

export const ALL_SCRIPTS: readonly LuaScript[] = [CREATE_ORDER, TRANSITION, READ_ORDERS];

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * EVALSHA, falling back to EVAL when the server does not have the script (restart, SCRIPT FLUSH).
 * NOSCRIPT means the script did not run, so running it again is safe. The caller's client is left
 * as it is (no defineCommand on an instance we do not own).
 */
export async function runScript(
  redis: Redis,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(lua.lua, keys.length, ...keys, ...args);
  }
}
