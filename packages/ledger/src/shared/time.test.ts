import { describe, expect, it } from 'vitest';
import { timeMs } from './time.ts';

describe('timeMs', () => {
  it('answers each time its own milliseconds, asked once or many times in a row', () => {
    const a = '2026-12-04T10:00:00.000Z';
    const b = '2026-12-04T10:00:00.001Z';
    expect(timeMs(a, 'at')).toBe(Date.parse(a));
    expect(timeMs(a, 'at')).toBe(Date.parse(a));
    expect(timeMs(b, 'at')).toBe(Date.parse(b));
    expect(timeMs(a, 'at')).toBe(Date.parse(a));
  });

  it('refuses what is not a time, also right after a valid one', () => {
    expect(timeMs('2026-12-04T10:00:00.000Z', 'at')).toBeGreaterThan(0);
    expect(() => timeMs('soon', 'entry.at')).toThrow('entry.at is not an ISO time: "soon"');
    expect(() => timeMs('soon', 'entry.at')).toThrow(RangeError);
    expect(() => timeMs('1960-01-01T00:00:00.000Z', 'at')).toThrow(RangeError);
  });
});
