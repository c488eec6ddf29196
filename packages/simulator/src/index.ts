export type { AnswerFormat } from './answers.ts';
export {
  BEHAVIOURS,
  type Behaviour,
  MAGIC_AMOUNTS,
  magicBehaviour,
  OUTCOMES,
  type Outcome,
} from './behaviours.ts';
export type { CallbackRecord } from './callbacks.ts';
export {
  DEFAULT_RUNTIME_CONFIG,
  type RuntimeConfig,
  type RuntimeConfigPatch,
  runtimeConfigSchema,
  type Script,
  scriptSchema,
} from './config.ts';
export type {
  Endpoint,
  OrderStatus,
  OrderView,
  RequestInfo,
  RequestLogEntry,
  SimulatorLogger,
  SimulatorStats,
} from './engine.ts';
export { createPrng } from './prng.ts';
export { createSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';
