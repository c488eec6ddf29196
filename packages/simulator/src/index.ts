export type { AnswerFormat } from './answers.ts';
export {
  BEHAVIOURS,
  type Behaviour,
  MAGIC_AMOUNTS,
  magicBehaviour,
  OUTCOMES,
  type Outcome,
} from './behaviours.ts';
export type { CallbackRecord, CallbackStatus, CallbackTrigger } from './callbacks.ts';
export {
  ANSWER_CALLBACK_MODES,
  type AnswerCallbackMode,
  type CallbackRequest,
  DEFAULT_RUNTIME_CONFIG,
  type ForcedStatus,
  type ReverseOptions,
  type RuntimeConfig,
  type RuntimeConfigPatch,
  runtimeConfigSchema,
  type Script,
  scriptSchema,
} from './config.ts';
export type {
  AnswerCallbackTiming,
  BookEntry,
  CallbackBatch,
  Endpoint,
  OrderStatus,
  OrderView,
  RequestInfo,
  RequestLogEntry,
  ReverseResult,
  SimulatorLogger,
  SimulatorStats,
} from './engine.ts';
export { SimulatorError } from './errors.ts';
export { createPrng, keyedDraw } from './prng.ts';
export {
  createSimulator,
  type Simulator,
  type SimulatorOptions,
  type Telgoo5Simulator,
} from './simulator.ts';
export {
  DEFAULT_TELGOO5_CREDENTIALS,
  TELGOO5_BEHAVIOURS,
  TELGOO5_MAGIC_AMOUNTS,
  type Telgoo5Behaviour,
  type Telgoo5Credentials,
  type Telgoo5Script,
  telgoo5MagicBehaviour,
} from './telgoo5/config.ts';
export type { Telgoo5RequestEntry, Telgoo5Stats, Telgoo5Topup } from './telgoo5/engine.ts';
export type { TokenRejection as Telgoo5TokenRejection } from './telgoo5/tokens.ts';
