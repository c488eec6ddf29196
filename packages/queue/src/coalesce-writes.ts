import type { Redis } from 'ioredis';

const COALESCING = Symbol('rechargeflow.coalescing');

/** Bytes held back in one turn before they are sent at once (a recharge's commands are ~1 KB). */
export const COALESCE_MAX_BYTES = 64 * 1024;

type Stream = Redis['stream'] & { [COALESCING]?: true };

/**
 * Everything written to `redis` in one turn of the event loop leaves in one socket write: the
 * socket is corked at the turn's first write and uncorked in `setImmediate`, after the I/O callbacks
 * of that turn (the pattern Node's `writable.cork()` documents). BullMQ's calls of concurrent jobs
 * (a job's finish, another's add) then share a system call and Redis reads them in one go, where each
 * was a write of its own: on loopback a write costs as much CPU as the command. The commands, their
 * order and their replies are unchanged (ioredis pairs replies with its own queue), unlike ioredis's
 * auto-pipelining, which BullMQ does not support. Installed again on every reconnection's socket.
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
        setImmediate(uncork, cork);
      }
      const ok = (write as (...a: unknown[]) => boolean).apply(this, args);
      // A turn that already holds this much (a bulk add) gains nothing by waiting: it leaves now,
      // rather than sitting in this process's memory until the turn ends.
      if (stream.writableLength >= COALESCE_MAX_BYTES) uncork(cork);
      return ok;
    } as Stream['write'];
  };
  redis.on('connect', install);
  install();
  return redis;
}
