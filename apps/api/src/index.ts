// What a tool may read of this app (tools/tooling's container checks): its config schema.
export { type ApiConfig, loadApiConfig } from './config.ts';
