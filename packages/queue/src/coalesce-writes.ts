import type { Redis } from 'ioredis';

const COALESCING = Symbol('rechargeflow.coalescing');

/** Bytes held back before they are sent at once (a recharge's commands are ~1 KB). */
export const COALESCE_MAX_BYTES = 64 * 1024;

type Stream = Redis['stream'] & { [COALESCING]?: true };

/**
 * Commands written to `redis` together leave in one socket write: the socket is corked at the first
 * write and uncorked on `process.nextTick`, which Node runs once the code that wrote and the promise
 * continuations queued with it are done (the pattern Node's `writable.cork()` documents). One ledger
 * reply that settles the transitions of dozens of jobs sets off their BullMQ finishes together: they
 * share a system call and Redis reads them in one go, where each was a write of its own (on loopback
 * a write costs about as much CPU as the command).
 * Uncorking at `setImmediate` instead coalesced more but held each finish back a whole turn of a busy
 * loop: fewer orders per second at the same concurrency (0.48-0.49 against 0.51 of the hand-written
 * pipeline, docs/benchmarks.md). The commands, their order and their replies are unchanged (ioredis
 * pairs replies with its own queue), unlike ioredis's auto-pipelining, which BullMQ does not support.
 * Installed again on every reconnection's socket; not on a Redis Cluster's node connections.
 */
export function coalesceWrites(redis: Redis): Redis {
  const install = (): void => {
    const stream = redis.stream as Stream | undefined;
    if (stream === undefined || stream[COALESCING]) return;
    stream[COALESCING] = true;
    const write = stream.write;
    // Which cork the scheduled uncork is for: one lifted early (a bulk write) is not lifted twice.
    let cork = 0;
    let corked = false;
    const uncork = (which: number): void => {
      if (!corked || which !== cork) return;
      corked = false;
      stream.uncork();
    };
    stream.write = function coalescedWrite(this: Stream, ...args: unknown[]): boolean {
      if (!corked) {
        corked = true;
        cork += 1;
        stream.cork();
        process.nextTick(uncork, cork);
      }
      const ok = (write as (...a: unknown[]) => boolean).apply(this, args);
      // Writes that already come to this much (a bulk add) gain nothing by waiting: they leave now,
      // rather than sitting in this process's memory until the callback ends.
      if (stream.writableLength >= COALESCE_MAX_BYTES) uncork(cork);
      return ok;
    } as Stream['write'];
  };
  redis.on('connect', install);
  install();
  return redis;
}
