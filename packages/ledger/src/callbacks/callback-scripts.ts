import { script } from '../redis/lua.ts';

/** The callbacks' Lua scripts (see redis/lua.ts for what every script shares). */

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
