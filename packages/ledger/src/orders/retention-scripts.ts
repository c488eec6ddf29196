import { script } from '../redis/lua.ts';

/** The retention's Lua script (see redis/lua.ts for what every script shares). */

/**
 * Removes one archived order, only while it is exactly as it was archived: present, in the expected
 * (final) state, at the expected version, and last changed before the cutoff by its own index entry.
 * A callback, reversal or note written after the archiver read the order changed its version, so
 * the order stays (`changed`) and nothing is lost; the next run archives it again.
 * Removes the order hash, its history list (orders written before layout 3) and its members in the
 * client's list, the state-by-updatedAt set and the due-check set (the client stays in the registry). A batch's state counts are left as they are: an
 * archived member keeps counting under the final state it was archived in, which can never change.
 * The provider-order claims this order holds stay as its tombstone, with an expiry (none for 0): a
 * claim held by a key with no order is an archived order (CREATE_ORDERS answers it with an empty
 * snapshot, and a late callback finds no order and is kept as unknown_order).
 * KEYS: order hash, history list, client's list, state-by-updatedAt set, due-check set, then the
 *       order's provider-order claims.
 * ARGV: key id, expected state, expected version, cutoff ms, tombstone ms ('0' = no expiry), the
 *       order's list key (creation time + key id; an order written before layout 3 also stores it).
 * Answers: removed | changed | not_found.
 */
export const REMOVE_ARCHIVED = script(
  'remove-archived',
  `local current = redis.call('HMGET', KEYS[1], 'state', 'version', 'listKey')
if not current[1] then
  return {'not_found'}
end
if current[1] ~= ARGV[2] or current[2] ~= ARGV[3] then
  return {'changed'}
end
local score = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not score or tonumber(score) >= tonumber(ARGV[4]) then
  return {'changed'}
end
-- UNLINK frees a long history off the main thread.
redis.call('UNLINK', KEYS[1], KEYS[2])
local listKey = current[3] or ARGV[6]
redis.call('ZREM', KEYS[3], listKey)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
for i = 6, #KEYS do
  if ARGV[5] ~= '0' and redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[5])
  end
end
return {'removed'}`,
);
