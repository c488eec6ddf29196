export { type AppName, freePort, REPO_ROOT, type RunningPart, startApp, waitFor } from './processes.ts';
export { deleteByPrefix, type KeyScanner } from './redis-keys.ts';
