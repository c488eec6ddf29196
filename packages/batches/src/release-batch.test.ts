import { describe, expect, it } from 'vitest';
import { queuesHaveRoom, type RechargeJobSink } from './release-batch.ts';

/** A sink whose queues hold the given backlogs. */
function sink(backlogs: Record<string, number>): RechargeJobSink {
  return {
    enqueueBulk: async () => undefined,
    backlog: async (_name, provider) => backlogs[provider ?? ''] ?? 0,
  };
}

describe('queuesHaveRoom', () => {
  it('lets a chunk go while one of its queues is under the limit, and waits only when all are full', async () => {
    const full = sink({ a1topup: 10_000, telgoo5: 10_000 });
    expect(await queuesHaveRoom(full, ['a1topup', 'telgoo5'], 10_000)).toBe(false);
    // A queue that stays full (rate limited, or not consumed) does not hold back the others.
    const oneFull = sink({ a1topup: 50_000, telgoo5: 9_999 });
    expect(await queuesHaveRoom(oneFull, ['a1topup', 'telgoo5'], 10_000)).toBe(true);
    expect(await queuesHaveRoom(oneFull, ['a1topup'], 10_000)).toBe(false);
    // Nothing to add: nothing to wait for.
    expect(await queuesHaveRoom(full, [], 10_000)).toBe(true);
  });
});
