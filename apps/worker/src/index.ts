// What a tool may read of this app (tools/tooling's container checks, npm start, the import
// benchmark): its config schema and the Node flags it starts with.
export { loadWorkerConfig, type WorkerConfig } from './config.ts';
export { WORKER_NODE_FLAGS } from './node-flags.ts';
