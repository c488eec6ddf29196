import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { retentionJob } from './retention-job.ts';
import type { RetentionLedger, RetentionReport } from './retention-run.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-retention-job-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A ledger with nothing due whose clock call waits until released: a run in progress. */
function slowLedger() {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let clocks = 0;
  const ledger: RetentionLedger = {
    clock: async () => {
      clocks += 1;
      await gate;
      return new Date();
    },
    scanStale: async () => ({ orders: [] }),
    removeArchivedOrder: async () => 'removed',
  };
  return { ledger, release, clocks: () => clocks };
}

describe('the retention job', () => {
  it('runs once at a time in the background, and stop waits for the run', async () => {
    const { ledger, release, clocks } = slowLedger();
    const done: RetentionReport[] = [];
    const job = retentionJob(ledger, {
      dir,
      retentionMs: 1_000,
      onDone: (report) => done.push(report),
      onError: (error) => {
        throw error;
      },
    });
    job.trigger();
    job.trigger();
    expect(clocks()).toBe(1);
    const stopped = job.stop();
    release();
    await stopped;
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ written: 0, files: [], stopped: true });
    // Once stopping, it starts nothing.
    job.trigger();
    expect(clocks()).toBe(1);
  });

  it('reports a failed run, and the next trigger starts again', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const done: RetentionReport[] = [];
    const ledger: RetentionLedger = {
      clock: async () => {
        if (fail) throw new Error('ledger down');
        return new Date();
      },
      scanStale: async () => ({ orders: [] }),
      removeArchivedOrder: async () => 'removed',
    };
    const job = retentionJob(ledger, {
      dir,
      retentionMs: 1_000,
      onDone: (report) => done.push(report),
      onError: (error) => errors.push(error),
    });
    job.trigger();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toEqual([new Error('ledger down')]);
    fail = false;
    job.trigger();
    await job.stop();
    expect(done).toHaveLength(1);
  });
});
