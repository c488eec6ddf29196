export { type AuthOptions, createAuthenticator, type KeyEntry, type Principal, type Role } from './auth.ts';
export type { BatchLimits } from './batch-routes.ts';
export { type ApiDeps, buildApi } from './build-api.ts';
export { QUEUE_BOARD_PATH, type QueueBoardMode } from './queue-board.ts';
export { parseRechargeBody } from './request-parsing.ts';
export type { WebhookSettings } from './webhook-routes.ts';
