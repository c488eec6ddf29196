import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * What every Lua script of the Redis ledger shares; the scripts live with their aggregate
 * (orders/order-scripts.ts, callbacks/callback-scripts.ts, balances/balance-scripts.ts,
 * batches/batch-scripts.ts and upload-scripts.ts), and ALL_SCRIPTS (redis-ledger-store.ts) lists
 * them for init(). Each write is one script, so it is atomic: nothing else runs on the server
 * between the check and the write. The scripts never encode JSON and decode only an order's
 * route, a non-empty array of strings (cjson turns empty arrays into `{}` and rounds large numbers,
 * neither of which a route has): scalar fields live in a hash, history entries are JSON strings
 * built in TypeScript and appended (as hash fields `h1`..`hN` with `hn` = N; orders written before
 * layout 3 keep theirs in a list), and the scripts only compare and copy.
 * A script's writes are not rolled back when it fails half-way, so every check comes before the
 * first write.
 *
 * Every script answers `{status, snapshot?}` where a snapshot is `{HGETALL of the order, LRANGE of
 * its history list}` (the list is empty, and not read, for an order whose history is in its hash):
 * the order exactly as the script left it.
 */

export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

export function script(name: string, body: string): LuaScript {
  const lua = `${SNAPSHOT}\n${body}`;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Shared by every script. Times from the server's clock (TIME) are epoch milliseconds, written as
 * whole-number strings: Lua would print a large number in exponent form.
 */
const SNAPSHOT = `local function snapshot(orderKey, historyKey)
  local flat = redis.call('HGETALL', orderKey)
  -- An order written since layout 3 keeps its history in its own hash (h1..hN, N = hn).
  for i = 1, #flat, 2 do
    if flat[i] == 'hn' then
      return {flat, {}}
    end
  end
  return {flat, redis.call('LRANGE', historyKey, 0, -1)}
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n)
  return string.format('%.0f', n)
end`;

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
