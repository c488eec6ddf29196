import {
  type RetentionLedger,
  type RetentionOptions,
  type RetentionReport,
  runRetention,
} from './retention-run.ts';

export interface RetentionJobOptions extends Omit<RetentionOptions, 'shouldStop'> {
  /** A run ended: its report (skipped when another run held the lock). */
  readonly onDone: (report: RetentionReport) => void;
  /** A run failed: nothing of the file it was writing was removed; the next run resumes. */
  readonly onError: (error: unknown) => void;
}

/** What the poller's `ledger.retention` job drives. */
export interface RetentionJob {
  /**
   * Starts a run in the background unless one is running in this process, and returns at once:
   * a run of up to RETENTION_MAX_PER_RUN orders must not hold up the poller's sweeps, which share
   * its queue and its one-at-a-time consumer.
   */
  trigger(): void;
  /** Asks a running run to stop at its next page (its unfinished file is dropped) and waits for it. */
  stop(): Promise<void>;
}

export function retentionJob(ledger: RetentionLedger, options: RetentionJobOptions): RetentionJob {
  const { onDone, onError, ...settings } = options;
  let running: Promise<void> | undefined;
  let stopping = false;
  return {
    trigger() {
      if (running !== undefined || stopping) return;
      running = runRetention(ledger, { ...settings, shouldStop: () => stopping })
        .then(onDone, onError)
        .finally(() => {
          running = undefined;
        });
    },
    async stop() {
      stopping = true;
      await running;
    },
  };
}
