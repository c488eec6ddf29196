// What a tool may read of this app (tools/tooling's container checks): its config schema.
export { loadPollerConfig, type PollerConfig } from './config.ts';
