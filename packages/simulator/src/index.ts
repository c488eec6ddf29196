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
export { createPrng } from './prng.ts';
export { createSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';
