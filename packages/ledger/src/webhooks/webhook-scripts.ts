import { script } from '../redis/lua.ts';

/**
 * The webhooks' Lua scripts (see redis/lua.ts for what every script shares). The outbox has none
 * of its own: the order transition script (orders/order-scripts.ts) appends to it.
 *
 * A delivery's list member is its creation time (15 digits), `:`, then its URI-encoded id, so the
 * scripts find the delivery's hash at the delivery key prefix + the member from its 17th byte.
 */

/**
 * Stores an endpoint unless the client has `max` of them already: the count and the write are one
 * step, so concurrent creations never pass the cap.
 * KEYS: the client's endpoints hash.
 * ARGV: endpoint id, endpoint JSON, max.
 * Answers: created | full | id_taken.
 */
export const CREATE_ENDPOINT = script(
  'create-endpoint',
  `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'id_taken'}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return {'full'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'created'}`,
);

/**
 * Stores a delivery once: an id that exists answers the stored delivery, unchanged. A new one
 * expires after the TTL (server clock), and joins its endpoint's index; the index's two oldest
 * members whose delivery has expired leave it, so the index keeps pace with the expiries.
 * KEYS: delivery hash, its attempts list, the endpoint's delivery index.
 * ARGV: TTL ms, list member, delivery key prefix, n (attempts), n attempt JSONs, then the hash's
 *       field/value pairs.
 * Answers: {created | exists, HGETALL, attempts}.
 */
export const CREATE_DELIVERY = script(
  'create-delivery',
  `if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
end
local n = tonumber(ARGV[4])
local fields = {}
for i = 5 + n, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
-- Attempts left by an earlier delivery of this id that expired a moment before its hash.
redis.call('DEL', KEYS[2])
if n > 0 then
  local attempts = {}
  for i = 5, 4 + n do
    attempts[#attempts + 1] = ARGV[i]
  end
  redis.call('RPUSH', KEYS[2], unpack(attempts))
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, 1)) do
  if redis.call('EXISTS', ARGV[3] .. string.sub(member, 17)) == 0 then
    redis.call('ZREM', KEYS[3], member)
  end
end
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return {'created', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}`,
);

/**
 * Appends an attempt, keeping the newest `keep`, and sets the state and update time. The attempts
 * list expires with the delivery.
 * KEYS: delivery hash, its attempts list.
 * ARGV: attempt JSON, state, updatedAt ms, keep.
 * Answers: {updated, HGETALL, attempts} | {not_found}.
 */
export const RECORD_ATTEMPT = script(
  'record-attempt',
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updatedAtMs', ARGV[3])
return {'updated', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}`,
);

/**
 * A delivery that is not pending goes back to pending, updated now (server clock).
 * KEYS: delivery hash, its attempts list.
 * Answers: {reopened, HGETALL, attempts} | {not_found}.
 */
export const REOPEN_DELIVERY = script(
  'reopen-delivery',
  `local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'not_found'}
end
if state ~= 'pending' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'updatedAtMs', ms(now_ms()))
end
return {'reopened', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}`,
);

/**
 * A page of an endpoint's deliveries, newest first, read at one instant: up to `want` deliveries
 * that still exist, strictly after the `after` delivery's member. Members whose delivery has
 * expired are dropped from the index on the way.
 * KEYS: the endpoint's delivery index.
 * ARGV: the `after` delivery's URI-encoded id ('' = from the newest), want, delivery key prefix.
 * Answers: {listed, {{HGETALL, attempts}, ...}} | {bad_after} (not a delivery in this index).
 */
export const LIST_DELIVERIES = script(
  'list-deliveries',
  `local start = '+'
if ARGV[1] ~= '' then
  local member = redis.call('HGET', ARGV[3] .. ARGV[1], 'listMember')
  if not member or not redis.call('ZSCORE', KEYS[1], member) then
    return {'bad_after'}
  end
  start = '(' .. member
end
local want = tonumber(ARGV[2])
local found = {}
while #found < want do
  local members = redis.call('ZRANGE', KEYS[1], start, '-', 'BYLEX', 'REV', 'LIMIT', 0, want)
  if #members == 0 then
    break
  end
  for _, member in ipairs(members) do
    if #found >= want then
      break
    end
    local key = ARGV[3] .. string.sub(member, 17)
    if redis.call('EXISTS', key) == 1 then
      found[#found + 1] = {redis.call('HGETALL', key), redis.call('LRANGE', key .. ':attempts', 0, -1)}
    else
      redis.call('ZREM', KEYS[1], member)
    end
    start = '(' .. member
  end
end
return {'listed', found}`,
);
