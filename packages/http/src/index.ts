export { createAuthenticator, type KeyEntry, type Principal, type Role } from './auth.ts';
export type { BatchLimits } from './batch-routes.ts';
export { type ApiDeps, buildApi } from './build-api.ts';
export { type OrderView, toOrderView } from './order-view.ts';
export { createRateLimiter } from './rate-limit.ts';
export { parseRechargeBody } from './request-parsing.ts';
