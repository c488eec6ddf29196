import { script } from '../redis/lua.ts';
import { DROP_UPLOAD } from './upload-scripts.ts';

/** The batches' Lua scripts (see redis/lua.ts for what every script shares). */

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
 * Moves the release checkpoint on by one commit's rows, only when it continues it and the rows are
 * committed. `rowsReleased` is absent on batches stored before it existed: 0.
 * KEYS: batch hash. ARGV: first row, row count.
 * Answers: released | stale | not_found.
 */
export const RELEASE_ROWS = script(
  'release-rows',
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local current = redis.call('HMGET', KEYS[1], 'rowsReleased', 'rowsCommitted')
local released = tonumber(current[1] or '0')
local upTo = released + tonumber(ARGV[2])
if released + 1 ~= tonumber(ARGV[1]) or upTo > tonumber(current[2]) then
  return {'stale'}
end
redis.call('HSET', KEYS[1], 'rowsReleased', upTo)
return {'released'}`,
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
      -- A new version: retention removes an order only at the version it archived (with its batches).
      redis.call('HINCRBY', KEYS[i], 'version', 1)
      redis.call('HINCRBY', KEYS[1], current[1], 1)
      linked = linked + 1
    end
  end
end
return linked`,
);
