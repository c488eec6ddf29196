export { closeServer, runPart } from './run-part.ts';
export {
  LedgerDurabilityError,
  openStorage,
  type Storage,
  type StorageSettings,
  storageShutdownSteps,
} from './storage.ts';
