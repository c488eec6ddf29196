export { parseSimulatorConfig, type SimulatorConfig } from './config.ts';
