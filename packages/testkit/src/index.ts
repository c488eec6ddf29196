export {
  type BookLine,
  type BooksInput,
  type BooksVerdict,
  checkBooks,
  checkSimulatorBooks,
  type LedgerOrder,
  type OrderByProviderOrderId,
  readBooks,
} from './books.ts';
export { parseCsv } from './csv.ts';
export {
  type AppName,
  type AppOptions,
  type CommandOptions,
  type CommandResult,
  freePort,
  installed,
  type OutputTarget,
  type ProcessOptions,
  processCpuSeconds,
  REPO_ROOT,
  type RunningPart,
  runCommand,
  startApp,
  startProcess,
  waitFor,
} from './processes.ts';
export { type ClusterKeyScanner, deleteByPrefix, type KeyScanner } from './redis-keys.ts';
export { TcpProxy } from './tcp-proxy.ts';
