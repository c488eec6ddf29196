export {
  type BookLine,
  type BooksInput,
  type BooksVerdict,
  checkBooks,
  type LedgerOrder,
  readBooks,
} from './books.ts';
export { type AppName, freePort, REPO_ROOT, type RunningPart, startApp, waitFor } from './processes.ts';
export { deleteByPrefix, type KeyScanner } from './redis-keys.ts';
