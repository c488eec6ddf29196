import { script } from '../redis/lua.ts';

/**
 * The webhooks' Lua scripts (see redis/lua.ts for what every script shares). The outbox has none
 * of its own: the order transition script (orders/order-scripts.ts) appends to it.
 *
 * A delivery's list member is its creation time (15 digits), `:`, then its URI-encoded id, so the
 * scripts find the delivery's hash at the delivery key prefix + the member from its 17th byte.
 * The pending index (every delivery in state `pending`, scored by its `updatedAtMs`, member its
 * URI-encoded id) is kept by the scripts that set a delivery's state, in the same step.
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
 * expires after the TTL (server clock), and joins its endpoint's index (and, when pending, the
 * pending index); the endpoint index's two oldest members whose delivery has expired leave it, so
 * the index keeps pace with the expiries.
 * KEYS: delivery hash, its attempts list, the endpoint's delivery index, the pending index.
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
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'updatedAtMs'), string.sub(ARGV[2], 17))
end
return {'created', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}`,
);

/**
 * Appends an attempt, keeping the newest `keep`, and sets the state and update time, while the
 * delivery is pending (a delivered attempt also over failed: the POST reached the endpoint,
 * whatever a stale run concluded). Anything else writes nothing: a run that lost its job's lock
 * never turns a delivered delivery back. The attempts list expires with the delivery.
 * KEYS: delivery hash, its attempts list, the pending index.
 * ARGV: attempt JSON, state, updatedAt ms, keep, the URI-encoded delivery id.
 * Answers: {updated | unchanged, HGETALL, attempts} | {not_found}.
 */
export const RECORD_ATTEMPT = script(
  'record-attempt',
  `local current = redis.call('HGET', KEYS[1], 'state')
if not current then
  return {'not_found'}
end
if current ~= 'pending' and not (current == 'failed' and ARGV[2] == 'delivered') then
  return {'unchanged', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
end
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
else
  redis.call('ZREM', KEYS[3], ARGV[5])
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
 * A delivery that is not pending goes back to pending, updated now (server clock), and joins the
 * pending index (a pending one is left as it is, and put in the index if it was missing).
 * KEYS: delivery hash, its attempts list, the pending index.
 * ARGV: the URI-encoded delivery id.
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
  redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[1], 'updatedAtMs'), ARGV[1])
else
  redis.call('ZADD', KEYS[3], 'NX', redis.call('HGET', KEYS[1], 'updatedAtMs'), ARGV[1])
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

/**
 * Which of the given pending-index members still name a pending delivery: the others (expired, or
 * no longer pending) leave the index, checked and removed in one step so a delivery reopened
 * meanwhile is never dropped.
 * KEYS: the pending index.
 * ARGV: delivery key prefix, then the members (URI-encoded ids).
 * Answers: the members whose delivery is pending.
 */
export const PENDING_MEMBERS = script(
  'pending-members',
  `local pending = {}
for i = 2, #ARGV do
  if redis.call('HGET', ARGV[1] .. ARGV[i], 'state') == 'pending' then
    pending[#pending + 1] = ARGV[i]
  else
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return pending`,
);
