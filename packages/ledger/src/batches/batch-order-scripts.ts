import { script } from '../redis/lua.ts';

/**
 * Creates one CSV import chunk's orders (BatchStore.createBatchOrders): what CREATE_ORDERS
 * (orders/order-scripts.ts) does for orders of one client, one batch and one time, with those said
 * once instead of per order (the 1M-row import spends most of its Redis time in the ledger). Each
 * order is written exactly as CREATE_ORDERS writes it — the same hash fields, history entry, claim,
 * list and index entries and batch counts — so keep the two in step. Checks first, then writes: a
 * providerOrderId held by another order (or by an earlier order of the call) writes nothing.
 * KEYS: the client registry, queued-by-updatedAt set, the batch's state hash, the client's
 *       list, then per order (3): order hash, history list (read only for an order written before
 *       layout 3), providerOrderId claim.
 * ARGV: clientId, createdAt ISO, updatedAt ms, the list keys' time prefix (the list key is it + key
 *       id), first history entry (JSON), batchId, the batch id as kept in `batches`, R, then R
 *       routes (2 each: provider, route JSON or '' for a route of just the provider), then per
 *       order (6): keyId, orderId, providerOrderId, its route (1-based among the R), request (JSON),
 *       fingerprint ('' = the one the request hashes to: not stored).
 * Answers: {'done', per order 1 (created as sent) or a snapshot (existed; an empty one: its claim
 *          stands without it, retention's tombstone)} |
 *          {'provider_order_id_taken', position (1-based), the owner's key id}.
 */
export const CREATE_BATCH_ORDERS = script(
  'create-batch-orders',
  `local R = tonumber(ARGV[8])
local first = 9 + 2 * R
local S = 6
local n = (#ARGV - first + 1) / S
local claimKeys = {}
for i = 0, n - 1 do
  claimKeys[i + 1] = KEYS[7 + i * 3]
end
local owners = redis.call('MGET', unpack(claimKeys))
local new = {}
local seen = {}
local claims = {}
for i = 0, n - 1 do
  local k = 5 + i * 3
  local a = first + i * S
  local orderKey = KEYS[k]
  local owner = owners[i + 1]
  -- A claim held by this very key means its order exists (or was archived): claims stay.
  if not seen[orderKey] and owner ~= ARGV[a] and redis.call('EXISTS', orderKey) == 0 then
    owner = claims[KEYS[k + 2]] or owner
    if owner then
      return {'provider_order_id_taken', i + 1, owner}
    end
    claims[KEYS[k + 2]] = ARGV[a]
    seen[orderKey] = true
    new[i + 1] = true
  end
end
local result = {}
local claimed = {}
local byUpdate = {}
local listed = {}
local count = 0
for i = 0, n - 1 do
  local k = 5 + i * 3
  local a = first + i * S
  if new[i + 1] then
    local listKey = ARGV[4] .. ARGV[a]
    local route = 7 + 2 * tonumber(ARGV[a + 3])
    local fields = {'clientId', ARGV[1], 'orderId', ARGV[a + 1], 'providerOrderId', ARGV[a + 2],
      'provider', ARGV[route], 'request', ARGV[a + 4], 'state', 'queued',
      'inFlight', '0', 'attempts', '0', 'updatedAt', ARGV[2], 'version', '1',
      'h1', ARGV[5], 'hn', '1', 'batchId', ARGV[6], 'batches', ARGV[7]}
    if ARGV[a + 5] ~= '' then
      fields[#fields + 1] = 'fingerprint'
      fields[#fields + 1] = ARGV[a + 5]
    end
    -- No route field for a route of just the provider (it reads back as [provider]).
    if ARGV[route + 1] ~= '' then
      fields[#fields + 1] = 'route'
      fields[#fields + 1] = ARGV[route + 1]
    end
    redis.call('HSET', KEYS[k], unpack(fields))
    count = count + 1
    claimed[#claimed + 1] = KEYS[k + 2]
    claimed[#claimed + 1] = ARGV[a]
    listed[#listed + 1] = 0
    listed[#listed + 1] = listKey
    byUpdate[#byUpdate + 1] = ARGV[3]
    byUpdate[#byUpdate + 1] = ARGV[a]
    result[i + 1] = 1
  else
    result[i + 1] = snapshot(KEYS[k], KEYS[k + 1])
  end
end
if count > 0 then
  redis.call('MSET', unpack(claimed))
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], unpack(byUpdate))
  redis.call('ZADD', KEYS[4], unpack(listed))
  redis.call('HINCRBY', KEYS[3], 'queued', count)
end
return {'done', result}`,
);
