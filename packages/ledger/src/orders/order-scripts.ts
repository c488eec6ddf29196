import { script } from '../redis/lua.ts';
import { OUTBOX_STATES } from '../webhooks/webhook-store.ts';

/** The orders' Lua scripts (see redis/lua.ts for what every script shares). */

/**
 * Creates orders, each exactly as a single creation would (a key that exists, or was created earlier
 * in this call, answers its order unchanged), in two passes: every check first, then every write, so
 * a providerOrderId held by another order (or by an earlier order of the call) writes nothing at all.
 * Built for bulk imports: per new order only EXISTS and HSET (its first history entry is the hash's
 * `h1`); the claims are read with one MGET and written with one MSET, the index entries go in one
 * ZADD per index and the batch counts in one HINCRBY per batch. The order fields are literals here so the call carries only what
 * differs per order. At most ~1000 orders per call (Lua's unpack limit is 8000 values).
 * KEYS: the client registry, queued-by-updatedAt set, then B batch-state hashes, then per
 *       order (4): order hash, history list (read only for an order written before layout 3),
 *       providerOrderId claim, client list.
 * ARGV: B, then per order (15): keyId, list key, updatedAt ms, first history entry (JSON), clientId,
 *       orderId, providerOrderId, provider, route (JSON; '' = just the provider), request (JSON), fingerprint ('' = the one the
 *       request hashes to: not stored), createdAt ISO (the first updatedAt; h1 holds it),
 *       batchId ('' = none), its batch-state hash (1-based among the B), batch id as kept in `batches`.
 * Answers: {'done', per order 1 (created as sent) or a snapshot (existed)} |
 *          {'provider_order_id_taken', position (1-based), the owner's key id}.
 */
export const CREATE_ORDERS = script(
  'create-orders',
  `local B = tonumber(ARGV[1])
local S = 15
local n = (#ARGV - 1) / S
local claimKeys = {}
for i = 0, n - 1 do
  claimKeys[i + 1] = KEYS[5 + B + i * 4]
end
local owners = redis.call('MGET', unpack(claimKeys))
local new = {}
local seen = {}
local claims = {}
for i = 0, n - 1 do
  local k = 2 + B + i * 4
  local a = 1 + i * S
  local orderKey = KEYS[k + 1]
  local owner = owners[i + 1]
  -- A claim held by this very key means its order exists: claims and orders are never removed.
  if not seen[orderKey] and owner ~= ARGV[a + 1] and redis.call('EXISTS', orderKey) == 0 then
    owner = claims[KEYS[k + 3]] or owner
    if owner then
      return {'provider_order_id_taken', i + 1, owner}
    end
    claims[KEYS[k + 3]] = ARGV[a + 1]
    seen[orderKey] = true
    new[i + 1] = true
  end
end
local result = {}
local claimed = {}
local byUpdate = {}
local clients = {}
local clientIds = {}
local clientLists = {}
local batchCounts = {}
local function member(list, key, value)
  local members = list[key]
  if not members then
    members = {}
    list[key] = members
  end
  members[#members + 1] = 0
  members[#members + 1] = value
end
for i = 0, n - 1 do
  local k = 2 + B + i * 4
  local a = 1 + i * S
  local orderKey = KEYS[k + 1]
  if new[i + 1] then
    local fields = {'clientId', ARGV[a + 5], 'orderId', ARGV[a + 6], 'providerOrderId', ARGV[a + 7],
      'provider', ARGV[a + 8], 'request', ARGV[a + 10], 'state', 'queued',
      'inFlight', '0', 'attempts', '0', 'updatedAt', ARGV[a + 12],
      'version', '1', 'h1', ARGV[a + 4], 'hn', '1'}
    -- No createdAt (h1, the creation, is at it) and no fingerprint the request hashes to (layout 4).
    if ARGV[a + 11] ~= '' then
      fields[#fields + 1] = 'fingerprint'
      fields[#fields + 1] = ARGV[a + 11]
    end
    -- No route field for a route of just the provider (it reads back as [provider]).
    if ARGV[a + 9] ~= '' then
      fields[#fields + 1] = 'route'
      fields[#fields + 1] = ARGV[a + 9]
    end
    if ARGV[a + 13] ~= '' then
      fields[#fields + 1] = 'batchId'
      fields[#fields + 1] = ARGV[a + 13]
      fields[#fields + 1] = 'batches'
      fields[#fields + 1] = ARGV[a + 15]
      local batch = tonumber(ARGV[a + 14])
      batchCounts[batch] = (batchCounts[batch] or 0) + 1
    end
    redis.call('HSET', orderKey, unpack(fields))
    claimed[#claimed + 1] = KEYS[k + 3]
    claimed[#claimed + 1] = ARGV[a + 1]
    byUpdate[#byUpdate + 1] = ARGV[a + 3]
    byUpdate[#byUpdate + 1] = ARGV[a + 1]
    member(clientLists, KEYS[k + 4], ARGV[a + 2])
    if not clients[ARGV[a + 5]] then
      clients[ARGV[a + 5]] = true
      clientIds[#clientIds + 1] = ARGV[a + 5]
    end
    result[i + 1] = 1
  else
    result[i + 1] = snapshot(orderKey, KEYS[k + 2])
  end
end
if #claimed > 0 then
  redis.call('MSET', unpack(claimed))
  redis.call('SADD', KEYS[1], unpack(clientIds))
  redis.call('ZADD', KEYS[2], unpack(byUpdate))
  for key, members in pairs(clientLists) do
    redis.call('ZADD', key, unpack(members))
  end
  for batch, count in pairs(batchCounts) do
    redis.call('HINCRBY', KEYS[2 + batch], 'queued', count)
  end
end
return {'done', result}`,
);

/**
 * The order fields TRANSITION reads: what it checks, every field of an order hash that can change
 * after creation (so that a caller who holds the order's unchanging fields and its history is
 * answered without HGETALL), and `h1`, the creation entry, which tells this order from an earlier
 * one under the same key (archived, its tombstone expired, the key used again). An order field
 * added later that can change must be added here (the contract test compares the answers).
 */
export const TRANSITION_READ = [
  'state',
  'inFlight',
  'hn',
  'provider',
  'route',
  'batches',
  'providerOrderId',
  'version',
  'clientId',
  'orderId',
  'batchId',
  'attempts',
  'statusChecks',
  'updatedAt',
  'providerTxId',
  'providerRef',
  'providerStatus',
  'nextCheckAtMs',
  'pendingSinceMs',
  'reversal',
  'h1',
] as const;

/** A TRANSITION_READ field's position in the script's `current` (Lua counts from 1). */
function read(field: (typeof TRANSITION_READ)[number]): number {
  return TRANSITION_READ.indexOf(field) + 1;
}

/**
 * One order's transition as a Lua function (KEYS and ARGV are its own, as TRANSITION documents
 * them): TRANSITION runs it once, TRANSITION_MANY once per order of a batch. Its moves in the
 * by-updatedAt sets go through index_remove/index_add, which TRANSITION_MANY gathers into one
 * ZREM and one ZADD per set (a batch holds each order at most once, so they commute).
 */
const TRANSITION_FUNCTION = `local function transition(KEYS, ARGV, index_remove, index_add)
  local current = redis.call('HMGET', KEYS[1], ${TRANSITION_READ.map((field) => `'${field}'`).join(', ')})
  -- Every order hash has a state: none means no order.
  if not current[${read('state')}] then
    return {'not_found'}
  end
  if current[${read('state')}] ~= ARGV[1] or (ARGV[2] ~= '' and current[${read('inFlight')}] ~= ARGV[2]) or (ARGV[14] ~= '' and current[${read('providerOrderId')}] ~= ARGV[14])
    or (ARGV[15] ~= '' and current[${read('version')}] ~= ARGV[15]) then
    return {'conflict', snapshot(KEYS[1], KEYS[2])}
  end
  -- version (and attempts) are computed from the read above and written with the rest: one HSET.
  local version = (tonumber(current[${read('version')}]) or 0) + 1
  local fields = {'state', ARGV[3], 'updatedAt', ARGV[4], 'version', version}
  if ARGV[7] == '1' then
    fields[#fields + 1] = 'attempts'
    fields[#fields + 1] = (tonumber(current[${read('attempts')}]) or 0) + 1
  end
  local function inRoute(name)
    if current[${read('route')}] then
      for _, provider in ipairs(cjson.decode(current[${read('route')}])) do
        if provider == name then
          return true
        end
      end
      return false
    end
    return current[${read('provider')}] == name
  end
  if ARGV[16] ~= '' then
    if not inRoute(ARGV[16]) then
      return {'provider_not_in_route'}
    end
    if redis.call('GET', KEYS[7]) ~= ARGV[8] then
      return {'attempt_not_held'}
    end
    fields[#fields + 1] = 'provider'
    fields[#fields + 1] = ARGV[16]
    fields[#fields + 1] = 'providerOrderId'
    fields[#fields + 1] = ARGV[17]
  end
  if ARGV[11] ~= '' then
    if not inRoute(ARGV[11]) then
      return {'provider_not_in_route'}
    end
    local owner = redis.call('GET', KEYS[7])
    if owner == ARGV[8] then
      return {'conflict', snapshot(KEYS[1], KEYS[2])}
    end
    if owner then
      return {'provider_order_id_taken', owner}
    end
    redis.call('SET', KEYS[7], ARGV[8])
    fields[#fields + 1] = 'provider'
    fields[#fields + 1] = ARGV[11]
    fields[#fields + 1] = 'providerOrderId'
    fields[#fields + 1] = ARGV[12]
  end
  for i = 20, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  local historyLength = nil
  if current[${read('hn')}] then
    historyLength = tonumber(current[${read('hn')}]) + 1
    fields[#fields + 1] = 'h' .. historyLength
    fields[#fields + 1] = ARGV[6]
    fields[#fields + 1] = 'hn'
    fields[#fields + 1] = historyLength
  end
  local schedule = ARGV[9]
  if schedule == 'enter' or schedule == 'reschedule' then
    local now = now_ms()
    local due = ms(now + tonumber(ARGV[10]))
    if schedule == 'enter' then
      fields[#fields + 1] = 'pendingSinceMs'
      fields[#fields + 1] = ms(now)
    end
    fields[#fields + 1] = 'nextCheckAtMs'
    fields[#fields + 1] = due
    redis.call('ZADD', KEYS[5], due, ARGV[8])
  elseif schedule == 'leave' then
    redis.call('HDEL', KEYS[1], 'nextCheckAtMs')
    redis.call('ZREM', KEYS[5], ARGV[8])
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  if ARGV[1] ~= ARGV[3] and (${OUTBOX_STATES.map((state) => `ARGV[3] == '${state}'`).join(' or ')}) then
    -- No 'at': the entry id ('*') is the server's time in ms.
    local entry = {'clientId', current[${read('clientId')}] or '', 'orderId', current[${read('orderId')}] or '', 'version', version,
      'state', ARGV[3]}
    if current[${read('batchId')}] then
      entry[#entry + 1] = 'batchId'
      entry[#entry + 1] = current[${read('batchId')}]
    end
    if current[${read('batches')}] then
      entry[#entry + 1] = 'batches'
      entry[#entry + 1] = current[${read('batches')}]
    end
    redis.call('XADD', KEYS[6], '*', unpack(entry))
  end
  if not historyLength then
    historyLength = redis.call('RPUSH', KEYS[2], ARGV[6])
  end
  if KEYS[3] ~= KEYS[4] then
    index_remove(KEYS[3], ARGV[8])
  end
  index_add(KEYS[4], ARGV[5], ARGV[8])
  if current[${read('batches')}] and ARGV[1] ~= ARGV[3] then
    for batch in string.gmatch(current[${read('batches')}], '%S+') do
      local states = ARGV[13] .. batch .. ':states'
      redis.call('HINCRBY', states, ARGV[1], -1)
      redis.call('HINCRBY', states, ARGV[3], 1)
    end
  end
  -- The caller holds the rest of the order (the fields nothing changes after creation, and every
  -- history entry but this one): the fields read above as they were, and the ones written.
  local h1 = current[${read('h1')}]
  if ARGV[18] ~= '' and current[${read('hn')}] and tonumber(current[${read('hn')}]) == tonumber(ARGV[18])
    and h1 and string.sub(h1, 1, #ARGV[19]) == ARGV[19] then
    return {'applied_known', current, historyLength, fields}
  end
  -- A history list is append-only: a caller that read it with historyLength - 1 entries has the rest.
  return {'applied', redis.call('HGETALL', KEYS[1]), historyLength}
end`;

/**
 * KEYS: order hash, history list (used only by an order written before layout 3),
 *       from-state-by-updatedAt set, to-state-by-updatedAt set, due-check set,
 *       webhook outbox stream, and only with a provider switch or a booking: that
 *       providerOrderId's claim.
 * ARGV: expected state, expected inFlight ('' = any, '1', '0'), new state, updatedAt ISO,
 *       updatedAt ms, history entry (JSON), increment attempts ('1'/'0'), key id,
 *       schedule ('' | 'enter' | 'reschedule' | 'leave'), check after ms,
 *       switch to provider ('' = no switch), switch to providerOrderId, batch-state hash key
 *       prefix, expected providerOrderId ('' = any: the attempt pin), expected version ('' = any),
 *       book provider ('' = none), book providerOrderId, the number of history entries the
 *       caller holds ('' = none), how its creation entry begins (`["` + its createdAt + `"`),
 *       then patch field/value pairs.
 * A booking (an operator's success on an earlier attempt) needs the attempt's claim, KEYS[7], to be
 * this order's, and the provider in the route; it then points provider and providerOrderId at it.
 * A state change moves one count from the old state to the new in the state hash of every batch
 * the order is a member of (`batches`: space-separated URI-encoded batch ids; the hash key is the
 * prefix + id + `:states`, built here like the claim script builds order keys).
 * A switch is checked against the stored route (an order without one, written before routes
 * existed, has `[provider]`), then claims the new providerOrderId as CREATE_ORDERS does. The old
 * claim stays, so both ids lead to the order. A claim this order holds already means the same
 * switch has been applied: a conflict, so a repeat never applies twice.
 * Entering one of OUTBOX_STATES from another state appends an entry to the webhook outbox in the
 * same script (clientId, orderId, the version after this write, the state, the order's batchId and
 * its member batches; the server's time is the entry id): the event cannot be lost to a crash after the transition.
 * Per order it costs HMGET, one HSET (version, attempts and the history entry `h<n+1>` computed
 * from the read), the by-updatedAt index move and HGETALL (which holds the whole history). An order
 * written before layout 3 appends to its history list instead and is answered without it: the
 * caller that read it with (new length - 1) entries appends its own entry (else it reads it again).
 * When the caller holds as many history entries as the order had, and the order it read is this
 * one (its creation entry begins with the same time: not an earlier order under the same key), the answer is the fields read (TRANSITION_READ, before
 * this write) and the fields written, instead of the HGETALL: one command and ~1 KB less per write.
 * Answers: applied (+HGETALL, the history's new length) |
 *          applied_known (+TRANSITION_READ values, the history's new length, fields written) |
 *          conflict (+snapshot) | not_found |
 *          provider_not_in_route |
 *          provider_order_id_taken (+ the owner's key id) | attempt_not_held.
 */
export const TRANSITION = script(
  'transition',
  `${TRANSITION_FUNCTION}
return transition(KEYS, ARGV, function(key, member)
  redis.call('ZREM', key, member)
end, function(key, score, member)
  redis.call('ZADD', key, score, member)
end)`,
);

/**
 * TRANSITION for several orders in one script (the Redis store batches the transitions its
 * callers start in the same turn of the event loop): per order the same checks and writes, in
 * order, and its own answer; a Lua error in one order's part is that order's answer
 * ({'error', message}), not the batch's. Each order at most once per batch.
 * KEYS: every order's KEYS, one after another.
 * ARGV: N, then N pairs (number of KEYS, number of ARGV) in order, then every order's ARGV.
 * Answers: N answers, each as TRANSITION answers, or {'error', message}.
 */
export const TRANSITION_MANY = script(
  'transition-many',
  `${TRANSITION_FUNCTION}
local n = tonumber(ARGV[1])
local removals = {}
local additions = {}
local function gather(list, key)
  local members = list[key]
  if not members then
    members = {}
    list[key] = members
  end
  return members
end
local function index_remove(key, member)
  local members = gather(removals, key)
  members[#members + 1] = member
end
local function index_add(key, score, member)
  local members = gather(additions, key)
  members[#members + 1] = score
  members[#members + 1] = member
end
local answers = {}
local k = 1
local a = 2 + 2 * n
for i = 1, n do
  local nk = tonumber(ARGV[2 * i])
  local na = tonumber(ARGV[2 * i + 1])
  local ok, answer = pcall(transition, {unpack(KEYS, k, k + nk - 1)}, {unpack(ARGV, a, a + na - 1)},
    index_remove, index_add)
  if ok then
    answers[i] = answer
  else
    answers[i] = {'error', tostring(answer)}
  end
  k = k + nk
  a = a + na
end
-- The index writes come last, one per set. They fail only on a key of the wrong type (a corrupt
-- ledger): raised, as TRANSITION raises it, though every order's own write has been made.
for key, members in pairs(removals) do
  redis.call('ZREM', key, unpack(members))
end
for key, members in pairs(additions) do
  redis.call('ZADD', key, unpack(members))
end
return answers`,
);

/**
 * Appends a history entry to an order whatever its state (or only in an expected one): a fact that
 * cannot be applied is kept. The entry's `from`/`to` are the state read here, so the caller passes
 * the entry (history-encoding.ts: a JSON array) around them and the script splices them in.
 * KEYS: order hash, history list (only an order written before layout 3 appends to it).
 * ARGV: entry JSON head (`[` and the `at` value), entry JSON tail (the values after `to`, starting
 *       with a comma, and the closing `]`), expected state
 *       ('' = any), expected providerOrderId ('' = any).
 * Answers: appended (+snapshot) | conflict (+snapshot) | not_found.
 */
export const APPEND_HISTORY = script(
  'append-history',
  `local current = redis.call('HMGET', KEYS[1], 'state', 'providerOrderId', 'hn', 'version')
local state = current[1]
if not state then
  return {'not_found'}
end
if (ARGV[3] ~= '' and state ~= ARGV[3]) or (ARGV[4] ~= '' and current[2] ~= ARGV[4]) then
  return {'conflict', snapshot(KEYS[1], KEYS[2])}
end
local entry = ARGV[1] .. ',"' .. state .. '","' .. state .. '"' .. ARGV[2]
local version = (tonumber(current[4]) or 0) + 1
if current[3] then
  local n = tonumber(current[3]) + 1
  redis.call('HSET', KEYS[1], 'h' .. n, entry, 'hn', n, 'version', version)
else
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('HSET', KEYS[1], 'version', version)
end
return {'appended', snapshot(KEYS[1], KEYS[2])}`,
);

/**
 * KEYS: pairs of (order hash, history list). Answers one snapshot per pair, all taken at the same
 * instant (a missing order has an empty hash). Only orders written before layout 3 need it: a
 * newer order is one hash, read whole by HGETALL (redis-order-snapshot.ts).
 */
export const READ_ORDERS = script(
  'read-orders',
  `local result = {}
for i = 1, #KEYS, 2 do
  result[#result + 1] = snapshot(KEYS[i], KEYS[i + 1])
end
return result`,
);

/**
 * Claims due status checks by the server's clock: every `pending` order in the due-check set whose
 * time has come (oldest first, at most the limit) has its check counted and its next check moved
 * out by the schedule, in one script, so concurrent claimers never get the same order for one
 * interval. The order keys come from the set's members, so they cannot all be passed as KEYS: they
 * are built here from the prefixes, which is safe on a cluster only with a hash tag in the prefix
 * (as the store requires anyway).
 * KEYS: due-check set.
 * ARGV: limit, order hash key prefix, history list key prefix, then the intervals (ms, >= 1).
 * Answers: a snapshot per claimed order, in due order.
 */
export const CLAIM_CHECKS = script(
  'claim-checks',
  `local now = now_ms()
local intervals = {}
for i = 4, #ARGV do
  intervals[#intervals + 1] = tonumber(ARGV[i])
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms(now), 'LIMIT', 0, tonumber(ARGV[1]))
local claimed = {}
for _, keyId in ipairs(due) do
  local orderKey = ARGV[2] .. keyId
  if redis.call('HGET', orderKey, 'state') == 'pending' then
    -- After check n the next is due intervals[min(n, len - 1)] (0-based) from now.
    local n = redis.call('HINCRBY', orderKey, 'statusChecks', 1)
    local nextAt = ms(now + intervals[math.min(n, #intervals - 1) + 1])
    redis.call('HSET', orderKey, 'nextCheckAtMs', nextAt)
    redis.call('ZADD', KEYS[1], nextAt, keyId)
    claimed[#claimed + 1] = snapshot(orderKey, ARGV[3] .. keyId)
  else
    -- Only pending orders are checked; transitions keep the set so, this only drops a stray entry.
    redis.call('ZREM', KEYS[1], keyId)
  end
end
return claimed`,
);

/**
 * Brings orders written before the due-check set existed up to date (run at init, once per ledger,
 * in chunks; idempotent): schedules a pending order that has no next check for one at once.
 * KEYS: due-check set.
 * ARGV: order hash key prefix, then key ids (members of the state sets).
 * Answers: how many index entries it added.
 */
export const UPGRADE_ORDERS = script(
  'upgrade-orders',
  `local added = 0
local now = nil
for i = 2, #ARGV do
  local orderKey = ARGV[1] .. ARGV[i]
  local current = redis.call('HMGET', orderKey, 'state', 'nextCheckAtMs')
  if current[1] == 'pending' and not current[2] then
    now = now or now_ms()
    redis.call('HSET', orderKey, 'nextCheckAtMs', ms(now))
    added = added + redis.call('ZADD', KEYS[1], ms(now), ARGV[i])
  end
end
return added`,
);
