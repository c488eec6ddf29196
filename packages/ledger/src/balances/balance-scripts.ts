import { script } from '../redis/lua.ts';

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
