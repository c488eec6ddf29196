import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LedgerStore } from '@rechargeflow/ledger';

/**
 * A deterministic scheduler for the real `orders` code. Every actor (a worker's job run, a callback
 * being applied, a status check, a sweep, an operator) is a task; a task stops ("parks") before each
 * ledger call, each queue call and each provider call, and goes on only when the scheduler resumes
 * it. Between two steps every live task is parked, so which write lands first is decided by the
 * test's program (and so replayable from a seed), never by timing.
 */

/** Where a task is stopped. `recharge` and `status` are provider calls; the rest are our own I/O. */
export type ParkKind = 'ledger' | 'queue' | 'recharge' | 'status';

export type Role = 'job' | 'callback' | 'status' | 'sweep' | 'requeue' | 'operator';

export interface Park {
  readonly kind: ParkKind;
  /** For the trace: the method and its subject. */
  readonly what: string;
  /** The provider call parked on, for `recharge`. */
  readonly ref?: unknown;
  readonly resume: (value: unknown) => void;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export class Task {
  readonly id: number;
  readonly role: Role;
  readonly label: string;
  park: Park | undefined = undefined;
  /** Abandoned (a crash): never resumed again. */
  killed = false;
  done = false;
  failed = false;
  value: unknown = undefined;
  error: unknown = undefined;
  /** Resolved when the task parks or ends. */
  stopped: Deferred<void> = deferred<void>();

  constructor(id: number, role: Role, label: string) {
    this.id = id;
    this.role = role;
    this.label = label;
  }

  get live(): boolean {
    return !this.done && !this.killed;
  }

  toString(): string {
    return `t${this.id}(${this.label})`;
  }
}

/** How long a resumed task may run before it must park again or end (a hang is a failure). */
const STEP_LIMIT_MS = 10_000;

export class Scheduler {
  readonly #als = new AsyncLocalStorage<Task>();
  readonly tasks: Task[] = [];
  #next = 1;

  /** Starts `fn` as a task and returns once it parks for the first time or ends. */
  async spawn(role: Role, label: string, fn: () => Promise<unknown>): Promise<Task> {
    const task = new Task(this.#next++, role, label);
    this.tasks.push(task);
    this.#als.run(task, () => {
      Promise.resolve()
        .then(fn)
        .then(
          (value) => {
            task.done = true;
            task.value = value;
            task.stopped.resolve();
          },
          (error: unknown) => {
            task.done = true;
            task.failed = true;
            task.error = error;
            task.stopped.resolve();
          },
        );
    });
    await this.#untilStopped(task);
    return task;
  }

  /** The task whose code is running now (undefined for the scheduler itself: setup and checks). */
  current(): Task | undefined {
    return this.#als.getStore();
  }

  /** Called from inside a task: stops it here until the scheduler resumes it; resolves with the resume value. */
  park(kind: ParkKind, what: string, ref?: unknown): Promise<unknown> {
    const task = this.current();
    if (!task) return Promise.resolve(undefined);
    return new Promise((resume) => {
      task.park = { kind, what, ref, resume };
      task.stopped.resolve();
    });
  }

  /** Lets a parked task go on until it parks again or ends. */
  async resume(task: Task, value?: unknown): Promise<void> {
    const park = task.park;
    if (!park || !task.live) throw new Error(`${task} is not parked`);
    task.park = undefined;
    task.stopped = deferred<void>();
    park.resume(value);
    await this.#untilStopped(task);
  }

  /** A crash: the task is never resumed (whatever it was about to do does not happen). */
  kill(task: Task): void {
    task.killed = true;
  }

  /** When the last ledger call made by a task ended (ms). */
  #lastWrite = 0;

  wrote(): void {
    this.#lastWrite = Date.now();
  }

  /**
   * Waits until the clock has left the millisecond of the last ledger write, so a sweep that takes
   * orders "changed before now" sees every write made before it started (timestamps are whole ms).
   */
  async nextMillisecond(): Promise<void> {
    while (Date.now() <= this.#lastWrite) await sleep(1);
  }

  live(): Task[] {
    return this.tasks.filter((t) => t.live);
  }

  async #untilStopped(task: Task): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${task} neither parked nor ended within ${STEP_LIMIT_MS} ms`)),
        STEP_LIMIT_MS,
      );
    });
    try {
      await Promise.race([task.stopped.promise, hang]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The ledger as the `orders` code sees it: every call made by a task parks the task first (then
 * runs for real). Calls made outside tasks (setup, the checks) go straight through. A Proxy, so
 * methods the ledger gains later are gated too.
 */
export function gatedLedger(ledger: LedgerStore, scheduler: Scheduler): LedgerStore {
  return new Proxy(ledger, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return async (...args: unknown[]) => {
        await scheduler.park('ledger', `ledger.${String(prop)}`);
        // The store's clock reads "now": a write of this very millisecond would look just as old.
        if (prop === 'clock') await scheduler.nextMillisecond();
        try {
          return await method.apply(target, args);
        } finally {
          scheduler.wrote();
        }
      };
    },
  });
}
