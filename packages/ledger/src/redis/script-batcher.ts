import type { Redis } from 'ioredis';
import { type LuaScript, runScript } from './lua.ts';

/** At most this many calls go in one script run: bounds its time on the server and its KEYS. */
export const SCRIPT_BATCH_MAX = 64;

interface Call {
  readonly id: string;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  readonly resolve: (answer: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs the calls of `one` that its callers start in the same turn of the event loop as one run of
 * `many` (one EVALSHA, and the script may merge their index writes), each caller answered with its
 * own part: fewer commands and round trips per order when many are in flight, one ordinary run of
 * `one` when a call is alone. Calls with the same `id` (the same order) never share a run: the
 * later one goes in the next run, sent after it on the same connection, so calls about one order
 * run in the order they were made (as separate calls would: a NOSCRIPT retry, after Redis lost its
 * scripts, may overtake; every transition checks its expected state, so that is a conflict). `many` takes ARGV: N, then N pairs (number of
 * KEYS, number of ARGV), then every call's ARGV; KEYS one call's after another; it answers a list
 * of N answers, where {'error', message} is that call's failure alone.
 */
export function scriptBatcher(redis: Redis, one: LuaScript, many: LuaScript) {
  let waiting: Call[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    let rest = waiting;
    waiting = [];
    while (rest.length > 0) {
      const run: Call[] = [];
      const later: Call[] = [];
      const ids = new Set<string>();
      for (const call of rest) {
        if (run.length < SCRIPT_BATCH_MAX && !ids.has(call.id)) {
          ids.add(call.id);
          run.push(call);
        } else later.push(call);
      }
      send(run);
      rest = later;
    }
  }

  function send(run: readonly Call[]): void {
    const [only] = run;
    if (run.length === 1 && only !== undefined) {
      runScript(redis, one, only.keys, only.args).then(only.resolve, only.reject);
      return;
    }
    const args: (string | number)[] = [run.length];
    for (const call of run) args.push(call.keys.length, call.args.length);
    for (const call of run) args.push(...call.args);
    runScript(
      redis,
      many,
      run.flatMap((call) => call.keys),
      args,
    ).then(
      (reply) => {
        if (!Array.isArray(reply) || reply.length !== run.length) {
          const error = new Error(`${many.name}: unexpected reply`);
          for (const call of run) call.reject(error);
          return;
        }
        run.forEach((call, i) => {
          const answer: unknown = reply[i];
          if (Array.isArray(answer) && answer[0] === 'error') {
            call.reject(new Error(`${many.name}: ${String(answer[1])}`));
          } else call.resolve(answer);
        });
      },
      (error: unknown) => {
        for (const call of run) call.reject(error);
      },
    );
  }

  return function call(id: string, keys: readonly string[], args: readonly (string | number)[]) {
    return new Promise<unknown>((resolve, reject) => {
      waiting.push({ id, keys, args, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
