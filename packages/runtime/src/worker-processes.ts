/** What a worker process may consume (its WORKER_QUEUES setting). */
export const WORKER_QUEUES = ['recharges', 'webhooks', 'batches'] as const;
export type WorkerQueue = (typeof WORKER_QUEUES)[number];

/** How one kind of worker process is started: what it consumes (WORKER_QUEUES) and its Node flags. */
export interface WorkerProcess {
  readonly queues: readonly WorkerQueue[];
  readonly nodeFlags: readonly string[];
}

/**
 * The two kinds of worker process the project starts from the worker app (apps/worker): `npm run
 * start:worker` and `start:importer`, `npm start`, docker/compose.yaml and deploy/kubernetes
 * (packages/runtime/test/worker-processes.test.ts and the manifest checks keep them equal to this).
 *
 * - `worker`: recharges and webhooks, with a young generation of 16 MB semi-spaces whatever the
 *   memory around it. Node sizes V8's heap by the memory it sees: 64 MB semi-spaces on the 24 GiB
 *   benchmark host, but ~1.5 MB under a 512 MiB container limit (compose, Kubernetes), where a job's
 *   objects then outlive the young generation and the recharge path cost 0.85 ms of CPU per order
 *   instead of 0.59–0.61 (0.36× the hand-written pipeline instead of ~0.5×, docs/benchmarks.md). 16
 *   MB costs nothing measurable against 64 and keeps the heap well inside 512 MiB.
 * - `importer`: CSV batches, with heap flags that keep a 1,000,000-row import under 256 MB of RSS: a
 *   young generation of 8 MB semi-spaces (Node's own is 64 MB here) and an old generation that grows
 *   by 30 % rather than up to 4x between full collections; ~480 MB with Node's own sizing, which
 *   counts on plentiful memory, 256–261 MB with growth of 50 % (2026-12-04). 8 MB rather than 4: the
 *   garbage collector was ~half the import's CPU at 4 MB; 8 MB gave it less CPU for ~10 MB more RSS,
 *   16 MB came too close to 256 (docs/benchmarks.md, "CSV batch import", has the runs). In the recharge worker
 *   such flags cost ~0.05–0.07 ms of CPU per order (docs/benchmarks.md), hence two processes. On the
 *   command line, not in NODE_OPTIONS: V8 refuses --heap-growing-percent there.
 */
export const WORKER_PROCESSES = {
  worker: { queues: ['recharges', 'webhooks'], nodeFlags: ['--max-semi-space-size=16'] },
  importer: { queues: ['batches'], nodeFlags: ['--max-semi-space-size=8', '--heap-growing-percent=30'] },
} as const satisfies Record<string, WorkerProcess>;

export type WorkerProcessName = keyof typeof WORKER_PROCESSES;

/** A process's WORKER_QUEUES value. */
export function workerQueuesOf(name: WorkerProcessName): string {
  return WORKER_PROCESSES[name].queues.join(',');
}

/** Which of the two a process consuming `queues` is (in any order), if either: its name in logs and metrics. */
export function workerProcessOf(queues: readonly WorkerQueue[]): WorkerProcessName | undefined {
  const wanted = [...new Set(queues)].sort().join(',');
  return (Object.keys(WORKER_PROCESSES) as WorkerProcessName[]).find(
    (name) => [...WORKER_PROCESSES[name].queues].sort().join(',') === wanted,
  );
}
