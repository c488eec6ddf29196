import { script } from '../redis/lua.ts';

/** The uploads' Lua scripts (see redis/lua.ts for what every script shares). */

/**
 * Shared by the upload scripts: removes the uncommitted upload of one batch (its chunks, built from
 * the chunk key prefix and the count its lease record holds, the record, and its entries in the
 * client's pending bytes, the client's leases and the sweep's leases).
 */
export const DROP_UPLOAD = `local function drop_upload(recordKey, chunkPrefix, pendingKey, clientLeasesKey, leasesKey, field, member)
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
