import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The Lua scripts of the Redis ledger. Each write is one script, so it is atomic: nothing else runs
 * on the server between the check and the write. The scripts never encode JSON and decode only an
 * order's route, a non-empty array of strings (cjson turns empty arrays into `{}` and rounds large
 * numbers, neither of which a route has): scalar fields live in a hash, history entries are JSON
 * strings built in TypeScript and appended to a list, and the scripts only compare and copy.
 * A script's writes are not rolled back when it fails half-way, so every check comes before the
 * first write.
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

/**
 * Shared by every script. Times from the server's clock (TIME) are epoch milliseconds, written as
 * whole-number strings: Lua would print a large number in exponent form.
 */
const SNAPSHOT = `local function snapshot(orderKey, historyKey)
  return {redis.call('HGETALL', orderKey), redis.call('LRANGE', historyKey, 0, -1)}
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n)
  return string.format('%.0f', n)
end`;

/**
 * Creates orders, each exactly as a single creation would (a key that exists, or was created earlier
 * in this call, answers its order unchanged), in two passes: every check first, then every write, so
 * a providerOrderId held by another order (or by an earlier order of the call) writes nothing at all.
 * Built for bulk imports: per new order only EXISTS, HSET and RPUSH; the claims are read with one
 * MGET and written with one MSET, the index entries go in one ZADD per index and the batch counts
 * in one HINCRBY per batch. The order fields are literals here so the call carries only what
 * differs per order. At most ~1000 orders per call (Lua's unpack limit is 8000 values).
 * KEYS: all-orders-by-creation list, queued-by-updatedAt set, then B batch-state hashes, then per
 *       order (5): order hash, history list, providerOrderId claim, client list, client+queued list.
 * ARGV: B, then per order (15): keyId, list key, updatedAt ms, first history entry (JSON), clientId,
 *       orderId, providerOrderId, provider, route (JSON), request (JSON), fingerprint, createdAt ISO,
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
  claimKeys[i + 1] = KEYS[5 + B + i * 5]
end
local owners = redis.call('MGET', unpack(claimKeys))
local new = {}
local seen = {}
local claims = {}
for i = 0, n - 1 do
  local k = 2 + B + i * 5
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
local byCreation = {}
local byUpdate = {}
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
  local k = 2 + B + i * 5
  local a = 1 + i * S
  local orderKey = KEYS[k + 1]
  if new[i + 1] then
    if ARGV[a + 13] == '' then
      redis.call('HSET', orderKey, 'clientId', ARGV[a + 5], 'orderId', ARGV[a + 6],
        'providerOrderId', ARGV[a + 7], 'provider', ARGV[a + 8], 'route', ARGV[a + 9],
        'request', ARGV[a + 10], 'fingerprint', ARGV[a + 11], 'state', 'queued', 'inFlight', '0',
        'attempts', '0', 'statusChecks', '0', 'createdAt', ARGV[a + 12], 'updatedAt', ARGV[a + 12],
        'version', '1', 'listKey', ARGV[a + 2])
    else
      redis.call('HSET', orderKey, 'clientId', ARGV[a + 5], 'orderId', ARGV[a + 6],
        'providerOrderId', ARGV[a + 7], 'provider', ARGV[a + 8], 'route', ARGV[a + 9],
        'request', ARGV[a + 10], 'fingerprint', ARGV[a + 11], 'state', 'queued', 'inFlight', '0',
        'attempts', '0', 'statusChecks', '0', 'createdAt', ARGV[a + 12], 'updatedAt', ARGV[a + 12],
        'version', '1', 'listKey', ARGV[a + 2], 'batchId', ARGV[a + 13], 'batches', ARGV[a + 15])
      local batch = tonumber(ARGV[a + 14])
      batchCounts[batch] = (batchCounts[batch] or 0) + 1
    end
    redis.call('RPUSH', KEYS[k + 2], ARGV[a + 4])
    claimed[#claimed + 1] = KEYS[k + 3]
    claimed[#claimed + 1] = ARGV[a + 1]
    byCreation[#byCreation + 1] = 0
    byCreation[#byCreation + 1] = ARGV[a + 2]
    byUpdate[#byUpdate + 1] = ARGV[a + 3]
    byUpdate[#byUpdate + 1] = ARGV[a + 1]
    member(clientLists, KEYS[k + 4], ARGV[a + 2])
    member(clientLists, KEYS[k + 5], ARGV[a + 2])
    result[i + 1] = 1
  else
    result[i + 1] = snapshot(orderKey, KEYS[k + 2])
  end
end
if #claimed > 0 then
  redis.call('MSET', unpack(claimed))
  redis.call('ZADD', KEYS[1], unpack(byCreation))
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
 * KEYS: order hash, history list, client+from-state list, client+to-state list,
 *       from-state-by-updatedAt set, to-state-by-updatedAt set, due-check set,
 *       all-orders-by-creation list, and only with a provider switch: the new providerOrderId's
 *       claim.
 * ARGV: expected state, expected inFlight ('' = any, '1', '0'), new state, updatedAt ISO,
 *       updatedAt ms, history entry (JSON), increment attempts ('1'/'0'), key id,
 *       schedule ('' | 'enter' | 'reschedule' | 'leave'), check after ms,
 *       switch to provider ('' = no switch), switch to providerOrderId, batch-state hash key
 *       prefix, expected providerOrderId ('' = any: the attempt pin), expected version ('' = any),
 *       book provider ('' = none), book providerOrderId, then patch field/value pairs.
 * A booking (an operator's success on an earlier attempt) needs the attempt's claim, KEYS[9], to be
 * this order's, and the provider in the route; it then points provider and providerOrderId at it.
 * A state change moves one count from the old state to the new in the state hash of every batch
 * the order is a member of (`batches`: space-separated URI-encoded batch ids; the hash key is the
 * prefix + id + `:states`, built here like the claim script builds order keys).
 * A switch is checked against the stored route (an order without one, written before routes
 * existed, has `[provider]`), then claims the new providerOrderId as CREATE_ORDERS does. The old
 * claim stays, so both ids lead to the order. A claim this order holds already means the same
 * switch has been applied: a conflict, so a repeat never applies twice.
 * Answers: applied | conflict (+snapshot) | not_found | provider_not_in_route |
 *          provider_order_id_taken (+ the owner's key id) | attempt_not_held.
 */
export const TRANSITION = script(
  'transition',
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local current = redis.call('HMGET', KEYS[1], 'state', 'inFlight', 'listKey', 'provider', 'route', 'batches', 'providerOrderId', 'version')
if current[1] ~= ARGV[1] or (ARGV[2] ~= '' and current[2] ~= ARGV[2]) or (ARGV[14] ~= '' and current[7] ~= ARGV[14])
  or (ARGV[15] ~= '' and current[8] ~= ARGV[15]) then
  return {'conflict', snapshot(KEYS[1], KEYS[2])}
end
local fields = {'state', ARGV[3], 'updatedAt', ARGV[4]}
local function inRoute(name)
  if current[5] then
    for _, provider in ipairs(cjson.decode(current[5])) do
      if provider == name then
        return true
      end
    end
    return false
  end
  return current[4] == name
end
if ARGV[16] ~= '' then
  if not inRoute(ARGV[16]) then
    return {'provider_not_in_route'}
  end
  if redis.call('GET', KEYS[9]) ~= ARGV[8] then
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
  local owner = redis.call('GET', KEYS[9])
  if owner == ARGV[8] then
    return {'conflict', snapshot(KEYS[1], KEYS[2])}
  end
  if owner then
    return {'provider_order_id_taken', owner}
  end
  redis.call('SET', KEYS[9], ARGV[8])
  fields[#fields + 1] = 'provider'
  fields[#fields + 1] = ARGV[11]
  fields[#fields + 1] = 'providerOrderId'
  fields[#fields + 1] = ARGV[12]
end
for i = 18, #ARGV do
  fields[#fields + 1] = ARGV[i]
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
  redis.call('ZADD', KEYS[7], due, ARGV[8])
elseif schedule == 'leave' then
  redis.call('HDEL', KEYS[1], 'nextCheckAtMs')
  redis.call('ZREM', KEYS[7], ARGV[8])
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
-- Indexes an order written before the creation list existed; a no-op for every other order.
redis.call('ZADD', KEYS[8], 0, current[3])
if current[6] and ARGV[1] ~= ARGV[3] then
  for batch in string.gmatch(current[6], '%S+') do
    local states = ARGV[13] .. batch .. ':states'
    redis.call('HINCRBY', states, ARGV[1], -1)
    redis.call('HINCRBY', states, ARGV[3], 1)
  end
end
return {'applied', snapshot(KEYS[1], KEYS[2])}`,
);

/**
 * Appends a history entry to an order whatever its state (or only in an expected one): a fact that
 * cannot be applied is kept. The entry's `from`/`to` are the state read here, so the caller passes
 * the entry without them and the script splices them in (the entry JSON starts with `{"at":...,`
 * and this inserts after it).
 * KEYS: order hash, history list.
 * ARGV: entry JSON head (up to and including the `at` member, no closing brace), entry JSON tail
 *       (the members after `to`, starting with a comma, and the closing brace), expected state
 *       ('' = any), expected providerOrderId ('' = any).
 * Answers: appended (+snapshot) | conflict (+snapshot) | not_found.
 */
export const APPEND_HISTORY = script(
  'append-history',
  `local current = redis.call('HMGET', KEYS[1], 'state', 'providerOrderId')
local state = current[1]
if not state then
  return {'not_found'}
end
if (ARGV[3] ~= '' and state ~= ARGV[3]) or (ARGV[4] ~= '' and current[2] ~= ARGV[4]) then
  return {'conflict', snapshot(KEYS[1], KEYS[2])}
end
redis.call('RPUSH', KEYS[2], ARGV[1] .. ',"from":"' .. state .. '","to":"' .. state .. '"' .. ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
return {'appended', snapshot(KEYS[1], KEYS[2])}`,
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
 * Brings orders written before the due-check set and the creation list existed up to date (run at
 * init, once per ledger, in chunks; idempotent): lists every order by creation, and schedules a
 * pending order that has no next check for one at once.
 * KEYS: due-check set, all-orders-by-creation list.
 * ARGV: order hash key prefix, then key ids (members of the state sets).
 * Answers: how many index entries it added.
 */
export const UPGRADE_ORDERS = script(
  'upgrade-orders',
  `local added = 0
local now = nil
for i = 2, #ARGV do
  local orderKey = ARGV[1] .. ARGV[i]
  local current = redis.call('HMGET', orderKey, 'state', 'listKey', 'nextCheckAtMs')
  if current[2] then
    added = added + redis.call('ZADD', KEYS[2], 0, current[2])
  end
  if current[1] == 'pending' and not current[3] then
    now = now or now_ms()
    redis.call('HSET', orderKey, 'nextCheckAtMs', ms(now))
    added = added + redis.call('ZADD', KEYS[1], ms(now), ARGV[i])
  end
end
return added`,
);

/**
 * KEYS: callback hash, the `received` outcome set.
 * ARGV: callback id, updatedAt ms, then the new record's field/value pairs.
 * Answers: created | exists, each with the callback's HGETALL (a copy only adds one to `copies`).
 */
export const RECORD_CALLBACK = script(
  'record-callback',
  `if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'copies', 1)
  return {'exists', redis.call('HGETALL', KEYS[1])}
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {'created', redis.call('HGETALL', KEYS[1])}`,
);

/**
 * KEYS: callback hash, then one by-updatedAt set per outcome (all of them, so the old one is
 * among the declared keys whatever it is).
 * ARGV: callback id, position of the new outcome's set among KEYS (2-based), outcome,
 *       updatedAt ISO, updatedAt ms, has note ('1'/'0'), note.
 * Answers: updated | not_found.
 */
export const SET_CALLBACK_OUTCOME = script(
  'set-callback-outcome',
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
redis.call('HSET', KEYS[1], 'outcome', ARGV[3], 'updatedAt', ARGV[4])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'note', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'note')
end
for i = 2, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
redis.call('ZADD', KEYS[tonumber(ARGV[2])], ARGV[5], ARGV[1])
return {'updated'}`,
);

/**
 * Appends a balance sample. Members are `<sequence>|<sample JSON>`: unique (a repeated sample is
 * still a sample), and among samples of one millisecond the last recorded sorts last.
 * KEYS: the provider's by-time set, the sequence counter.
 * ARGV: sample time ms, sample JSON.
 */
export const RECORD_BALANCE = script(
  'record-balance',
  `local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[1], string.format('%015d', seq) .. '|' .. ARGV[2])
return seq`,
);

/**
 * Shared by the upload scripts: removes the uncommitted upload of one batch (its chunks, built from
 * the chunk key prefix and the count its lease record holds, the record, and its entries in the
 * client's pending bytes, the client's leases and the sweep's leases).
 */
const DROP_UPLOAD = `local function drop_upload(recordKey, chunkPrefix, pendingKey, clientLeasesKey, leasesKey, field, member)
  local chunks = tonumber(redis.call('HGET', recordKey, 'chunks') or '0')
  for i = 0, chunks - 1 do
    redis.call('UNLINK', chunkPrefix .. i)
  end
  redis.call('UNLINK', recordKey)
  redis.call('HDEL', pendingKey, field)
  redis.call('ZREM', clientLeasesKey, field)
  redis.call('ZREM', leasesKey, member)
  return chunks
end`;

/**
 * Creates a batch unless the client has one with the same content hash (the claim, set here with
 * the batch and never moved or removed), and settles the upload written under the batch id: a
 * new batch commits it (its chunks lose their expiry, its lease record and lease entries go, the
 * batch's bytes count as the client's pending bytes until it is imported); a known file drops it
 * (unless the claim is this very batch: a retry of a create that happened).
 * KEYS: content-hash claim, batch hash, client's batch list, `stored`-state-by-updatedAt set,
 *       the upload's lease record, the client's pending bytes, the client's upload leases, the
 *       sweep's upload leases.
 * ARGV: batchId, list key, updatedAt ms, chunk key prefix, the sweep's member for the upload,
 *       the batch id as a field of the client's keys, bytes, then the batch hash's field/value pairs.
 * Answers: created (+HGETALL) | exists (+ the batch id holding the hash) | batch_id_taken.
 */
export const CREATE_BATCH = script(
  'create-batch',
  `${DROP_UPLOAD}
local owner = redis.call('GET', KEYS[1])
if owner then
  if owner ~= ARGV[1] and redis.call('EXISTS', KEYS[2]) == 0 then
    drop_upload(KEYS[5], ARGV[4], KEYS[6], KEYS[7], KEYS[8], ARGV[6], ARGV[5])
  end
  return {'exists', owner}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'batch_id_taken'}
end
local fields = {}
for i = 8, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
local chunks = tonumber(redis.call('HGET', KEYS[5], 'chunks') or '0')
for i = 0, chunks - 1 do
  redis.call('PERSIST', ARGV[4] .. i)
end
redis.call('UNLINK', KEYS[5])
redis.call('ZREM', KEYS[7], ARGV[6])
redis.call('ZREM', KEYS[8], ARGV[5])
redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
return {'created', redis.call('HGETALL', KEYS[2])}`,
);

/**
 * Writes one upload chunk under the upload's lease, which it renews (to the server's clock + lease)
 * for every chunk of the upload, its lease record and its lease entries, in one step. First every
 * check, nothing written if one fails: the batch exists (committed: its upload never changes);
 * the upload is another client's; a chunk after the first of an upload whose lease record is gone
 * (the lease ran out); the client's pending bytes (its other uploads and batches not yet imported,
 * leases run out not counted and pruned, plus this upload with this chunk) would pass the limit.
 * KEYS: batch hash, the upload's lease record, this chunk, the client's pending bytes (hash: batch
 *       field -> bytes), the client's upload leases (zset: batch field -> lease end ms), the
 *       sweep's upload leases (zset: member -> lease end ms).
 * ARGV: batch field, index, data, clientId, lease ms, limit ('' = none), chunk key prefix, member.
 * Answers: stored | committed | other_client | expired | over_limit (+ the client's pending bytes).
 */
export const PUT_UPLOAD_CHUNK = script(
  'put-upload-chunk',
  `if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'committed'}
end
local index = tonumber(ARGV[2])
local record = redis.call('HMGET', KEYS[2], 'clientId', 'chunks', 'bytes', 's' .. ARGV[2])
if record[1] and record[1] ~= ARGV[4] then
  return {'other_client'}
end
if not record[1] and index > 0 then
  return {'expired'}
end
local now = now_ms()
local ran_out = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
for _, field in ipairs(ran_out) do
  redis.call('HDEL', KEYS[4], field)
end
if #ran_out > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
end
local before = tonumber(record[3] or '0')
local bytes = before - tonumber(record[4] or '0') + string.len(ARGV[3])
if ARGV[6] ~= '' then
  local others = 0
  local pending = redis.call('HGETALL', KEYS[4])
  for i = 1, #pending, 2 do
    if pending[i] ~= ARGV[1] then
      others = others + tonumber(pending[i + 1])
    end
  end
  if others + bytes > tonumber(ARGV[6]) then
    return {'over_limit', ms(others + before)}
  end
end
local lease_end = now + tonumber(ARGV[5])
local chunks = math.max(tonumber(record[2] or '0'), index + 1)
redis.call('SET', KEYS[3], ARGV[3], 'PXAT', ms(lease_end))
for i = 0, chunks - 1 do
  if i ~= index then
    redis.call('PEXPIREAT', ARGV[7] .. i, ms(lease_end))
  end
end
redis.call('HSET', KEYS[2], 'clientId', ARGV[4], 'chunks', ms(chunks), 'bytes', ms(bytes), 's' .. ARGV[2], ms(string.len(ARGV[3])))
redis.call('PEXPIREAT', KEYS[2], ms(lease_end))
redis.call('HSET', KEYS[4], ARGV[1], ms(bytes))
redis.call('ZADD', KEYS[5], ms(lease_end), ARGV[1])
redis.call('ZADD', KEYS[6], ms(lease_end), ARGV[8])
return {'stored'}`,
);

/**
 * Drops an upload not committed (its batch does not exist) that belongs to the client.
 * KEYS: batch hash, the upload's lease record, the client's pending bytes, the client's upload
 *       leases, the sweep's upload leases.
 * ARGV: chunk key prefix, batch field, member, clientId.
 * Answers: dropped (+ chunk keys removed) | committed | other_client.
 */
export const DISCARD_UPLOAD = script(
  'discard-upload',
  `${DROP_UPLOAD}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'committed'}
end
local owner = redis.call('HGET', KEYS[2], 'clientId')
if owner and owner ~= ARGV[4] then
  return {'other_client'}
end
return {'dropped', drop_upload(KEYS[2], ARGV[1], KEYS[3], KEYS[4], KEYS[5], ARGV[2], ARGV[3])}`,
);

/**
 * Drops up to ARGV[2] uploads whose lease ran out by the server's clock. A member of the sweep's
 * leases is `<client field> <batch field>` (both URI-encoded: no spaces), so the keys are built
 * here from the prefix, as the transition script builds batch-state keys. A committed upload has
 * no member (its batch creation removed it); one found anyway only loses the member.
 * KEYS: the sweep's upload leases.
 * ARGV: key prefix (`P:`), how many at most.
 * Answers: how many uploads were dropped.
 */
export const SWEEP_UPLOADS = script(
  'sweep-uploads',
  `${DROP_UPLOAD}
local now = now_ms()
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local dropped = 0
for _, member in ipairs(members) do
  local space = string.find(member, ' ', 1, true)
  local client = string.sub(member, 1, space - 1)
  local field = string.sub(member, space + 1)
  local batchKey = ARGV[1] .. 'batch:' .. field
  if redis.call('EXISTS', batchKey) == 0 then
    drop_upload(batchKey .. ':upload-lease', batchKey .. ':upload:', ARGV[1] .. 'client:' .. client .. ':pending-uploads',
      ARGV[1] .. 'client:' .. client .. ':upload-leases', KEYS[1], field, member)
    dropped = dropped + 1
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return dropped`,
);

/**
 * The client's pending bytes: its batches not yet imported and its uploads whose lease runs.
 * KEYS: the client's pending bytes, the client's upload leases.
 * Answers: the sum (a whole-number string).
 */
export const PENDING_UPLOAD_BYTES = script(
  'pending-upload-bytes',
  `local now = now_ms()
local ran_out = {}
for _, field in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  ran_out[field] = true
end
local total = 0
local pending = redis.call('HGETALL', KEYS[1])
for i = 1, #pending, 2 do
  if not ran_out[pending[i]] then
    total = total + tonumber(pending[i + 1])
  end
end
return ms(total)`,
);

/** Shared by the batch scripts: re-files the batch under its state's by-updatedAt set. */
const REINDEX_BATCH = `local function reindex(state, score, batchId, firstKey, firstName)
  for i = 0, 3 do
    if ARGV[firstName + i] == state then
      redis.call('ZADD', KEYS[firstKey + i], score, batchId)
    else
      redis.call('ZREM', KEYS[firstKey + i], batchId)
    end
  end
end`;

/**
 * A batch entering `imported` or `done` stops counting in its client's pending upload bytes.
 * KEYS: batch hash, then the four state-by-updatedAt sets (in BATCH_STATES order), the client's
 *       pending upload bytes.
 * ARGV: batchId, updatedAt ISO, updatedAt ms, new state ('' = unchanged), the four state names,
 *       the batch id as a field of the client's keys, then field/value pairs to set.
 * Answers: updated (+HGETALL) | not_found.
 */
export const UPDATE_BATCH = script(
  'update-batch',
  `${REINDEX_BATCH}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local state = ARGV[4]
if state == '' then
  state = redis.call('HGET', KEYS[1], 'state')
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2], 'state', state)
for i = 10, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
reindex(state, ARGV[3], ARGV[1], 2, 5)
if state == 'imported' or state == 'done' then
  redis.call('HDEL', KEYS[6], ARGV[9])
end
return {'updated', redis.call('HGETALL', KEYS[1])}`,
);

/**
 * Stores one commit's row results and advances the checkpoint, only when it continues it.
 * KEYS: batch hash, this commit's rows key, the batch's commit list (first rows, in order), then
 *       the four state-by-updatedAt sets.
 * ARGV: batchId, first row, row count, accepted, rejected, updatedAt ISO, updatedAt ms, rows (JSON),
 *       the four state names.
 * Answers: committed | stale (rowsCommitted + 1 is not the first row: nothing written) | not_found.
 */
export const COMMIT_ROWS = script(
  'commit-rows',
  `${REINDEX_BATCH}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local current = redis.call('HMGET', KEYS[1], 'rowsCommitted', 'state')
if tonumber(current[1]) + 1 ~= tonumber(ARGV[2]) then
  return {'stale'}
end
redis.call('SET', KEYS[2], ARGV[8])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'rowsCommitted', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'rejected', ARGV[5])
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
reindex(current[2], ARGV[7], ARGV[1], 4, 9)
return {'committed'}`,
);

/**
 * Makes orders members of a batch: adds the batch to each order's `batches` once, and counts it
 * under its state now, in the same script, so a transition cannot fall in between.
 * KEYS: the batch's state hash, then order hashes (a missing order is skipped).
 * ARGV: the batch id as kept in `batches` (URI-encoded: no spaces).
 * Answers: how many orders became members.
 */
export const LINK_ORDERS = script(
  'link-orders',
  `local linked = 0
for i = 2, #KEYS do
  local current = redis.call('HMGET', KEYS[i], 'state', 'batches')
  if current[1] then
    local batches = current[2] or ''
    if not string.find(' ' .. batches .. ' ', ' ' .. ARGV[1] .. ' ', 1, true) then
      redis.call('HSET', KEYS[i], 'batches', batches == '' and ARGV[1] or batches .. ' ' .. ARGV[1])
      redis.call('HINCRBY', KEYS[1], current[1], 1)
      linked = linked + 1
    end
  end
end
return linked`,
);

export const ALL_SCRIPTS: readonly LuaScript[] = [
  CREATE_ORDERS,
  TRANSITION,
  APPEND_HISTORY,
  READ_ORDERS,
  CLAIM_CHECKS,
  UPGRADE_ORDERS,
  RECORD_CALLBACK,
  SET_CALLBACK_OUTCOME,
  RECORD_BALANCE,
  CREATE_BATCH,
  UPDATE_BATCH,
  COMMIT_ROWS,
  LINK_ORDERS,
  PUT_UPLOAD_CHUNK,
  DISCARD_UPLOAD,
  SWEEP_UPLOADS,
  PENDING_UPLOAD_BYTES,
];

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
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(lua.lua, keys.length, ...keys, ...args);
  }
}
