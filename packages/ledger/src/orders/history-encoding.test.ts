import { describe, expect, it } from 'vitest';
import { encodeHistoryAround, encodeHistoryEntry, historyEntryFields } from './history-encoding.ts';
import { decodeHistoryEntry } from './order-record.ts';

describe('history entry encoding (Redis)', () => {
  const entries = [
    { at: '2026-12-03T13:26:42.008Z', from: null, to: 'queued', source: 'api', note: 'order accepted' },
    { at: '2026-12-03T13:26:42.010Z', from: 'queued', to: 'processing', source: 'worker' },
    {
      at: '2026-12-03T13:26:42.020Z',
      from: 'processing',
      to: 'success',
      source: 'worker',
      providerStatus: 'Success',
    },
    {
      at: '2026-12-03T13:26:43.000Z',
      from: 'manual_review',
      to: 'success',
      source: 'operator',
      note: 'a "quoted", [bracketed] note',
      providerStatus: 'ok',
      actor: 'ops (operator)',
    },
  ] as const;

  it('reads back every entry exactly, shorter than the object form', () => {
    for (const entry of entries) {
      const stored = encodeHistoryEntry(entry);
      expect(decodeHistoryEntry(JSON.parse(stored))).toEqual(entry);
      expect(stored.length).toBeLessThan(JSON.stringify(entry).length);
    }
    expect(encodeHistoryEntry(entries[1])).toBe(
      '["2026-12-03T13:26:42.010Z","queued","processing","worker"]',
    );
  });

  it('still reads the object form of entries written before', () => {
    for (const entry of entries) expect(decodeHistoryEntry(JSON.parse(JSON.stringify(entry)))).toEqual(entry);
  });

  it('splits around from/to so a script can write the state it reads', () => {
    const { from: _from, to: _to, ...rest } = entries[3];
    const { head, tail } = encodeHistoryAround(rest);
    const spliced = `${head},"pending","pending"${tail}`;
    expect(decodeHistoryEntry(JSON.parse(spliced))).toEqual({
      ...entries[3],
      from: 'pending',
      to: 'pending',
    });
    const bare = encodeHistoryAround({ at: '2026-12-03T13:26:43.000Z', source: 'poller' });
    expect(`${bare.head},"queued","queued"${bare.tail}`).toBe(
      '["2026-12-03T13:26:43.000Z","queued","queued","poller"]',
    );
  });

  it('keeps the null of a creation entry and drops absent optional fields', () => {
    expect(historyEntryFields(['t', null, 'queued', 'api', null, 'x'])).toEqual({
      at: 't',
      from: null,
      to: 'queued',
      source: 'api',
      providerStatus: 'x',
    });
  });
});
