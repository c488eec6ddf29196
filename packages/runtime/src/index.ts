export { LedgerDurabilityError } from './ledger-durability-error.ts';
export { readRedisMemoryByRole } from './redis-memory-roles.ts';
export { closeServer, runPart } from './run-part.ts';
export {
  openStorage,
  type Storage,
  type StorageSettings,
  storageShutdownSteps,
} from './storage.ts';
export {
  WORKER_PROCESSES,
  WORKER_QUEUES,
  type WorkerProcess,
  type WorkerProcessName,
  type WorkerQueue,
  workerProcessOf,
  workerQueuesOf,
} from './worker-processes.ts';
