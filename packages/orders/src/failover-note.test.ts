import type { HistoryEntry } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import { failoverNote, failoverOf } from './failover-note.ts';

const at = '2026-12-02T10:00:00.000Z';
const refused = { provider: 'a1topup', providerOrderId: 'RF1' };
const next = { provider: 'a1topup_backup', providerOrderId: 'RF2' };

function entry(note: string, fields: Partial<HistoryEntry> = {}): HistoryEntry {
  return { at, from: 'pending', to: 'processing', source: 'poller', note, ...fields };
}

describe('failover notes', () => {
  it('reads back the refused attempt from the note it wrote', () => {
    const note = failoverNote('status check 2: provider reports failed', refused, next);
    expect(note).toBe(
      'status check 2: provider reports failed; failing over to a1topup_backup as RF2 (a1topup refused RF1)',
    );
    expect(failoverOf(entry(note))).toEqual({ refused });
    expect(failoverOf(entry(note, { from: 'processing', source: 'worker' }))).toEqual({ refused });
  });

  it('counts a failover written before the refused attempt was named, without naming it', () => {
    expect(failoverOf(entry('a1topup refused: Failure; failing over to a1topup_backup as RF2'))).toEqual({
      refused: undefined,
    });
  });

  it('is not fooled by entries that are no failover', () => {
    const note = failoverNote('a1topup refused: x', refused, next);
    // Not a switch of an unsettled order: a history line, a settlement, an operator's words.
    expect(failoverOf(entry(note, { from: 'processing', to: 'pending' }))).toBeUndefined();
    expect(failoverOf(entry(note, { from: 'queued' }))).toBeUndefined();
    expect(failoverOf(entry(note, { source: 'operator' }))).toBeUndefined();
    // A provider's message quoting the words, followed by what we wrote after it.
    expect(
      failoverOf(
        entry('callback Failure (x; failing over to evil as RF9); no change', { from: 'processing' }),
      ),
    ).toBeUndefined();
    expect(
      failoverOf(entry('held for rerouting; routed to a1topup_backup as RF2', { from: 'processing' })),
    ).toBeUndefined();
  });
});
