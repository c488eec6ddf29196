import { describe, expect, it } from 'vitest';
import { nowIso } from './deps.ts';

describe('nowIso', () => {
  it("is the deps' clock when given", () => {
    expect(nowIso({ now: () => new Date('2026-12-04T10:00:00.123Z') })).toBe('2026-12-04T10:00:00.123Z');
  });

  it('is the current time otherwise, never behind it', async () => {
    const before = Date.now();
    const first = Date.parse(nowIso({}));
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = Date.now();
    expect(Date.parse(nowIso({}))).toBeGreaterThanOrEqual(later);
  });
});
