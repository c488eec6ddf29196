// What a tool may read of this app (tools/tooling's container checks, npm start): its config schema.
export { loadWorkerConfig, type WorkerConfig } from './config.ts';
