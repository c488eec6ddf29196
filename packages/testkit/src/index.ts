export { type AppName, freePort, REPO_ROOT, type RunningPart, startApp, waitFor } from './processes.ts';
