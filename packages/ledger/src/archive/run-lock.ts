import { open, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE } from './archive-format.ts';

/** A lock not refreshed this long belonged to a run that died (a run refreshes it after every file). */
export const RUN_LOCK_STALE_MS = 15 * 60_000;

/** One retention run at a time per archive directory (pollers sharing the directory's volume). */
export interface RunLock {
  /** Marks the lock as alive (a run refreshes it after every file). */
  refresh(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Takes the directory's run lock, or null while another run holds it. A lock not refreshed for
 * RUN_LOCK_STALE_MS belonged to a run that died: it is taken over. Two runs at once would still be safe for
 * the ledger (every removal is conditional); the lock keeps their index appends apart.
 */
export async function acquireRunLock(dir: string): Promise<RunLock | null> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(`${JSON.stringify({ pid: process.pid, host: hostname(), at: new Date() })}\n`);
      } finally {
        await handle.close();
      }
      return {
        refresh: async () => {
          const now = new Date();
          await utimes(path, now, now);
        },
        release: () => unlink(path).catch(() => undefined),
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(path).catch(() => null);
      if (held !== null && Date.now() - held.mtimeMs < RUN_LOCK_STALE_MS) return null;
      await unlink(path).catch(() => undefined);
    }
  }
  return null;
}
