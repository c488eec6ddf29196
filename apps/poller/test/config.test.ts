import { describe, expect, it } from 'vitest';
import { loadPollerConfig } from '../src/config.ts';

const base = { A1TOPUP_USERNAME: 'u', A1TOPUP_PASSWORD: 'p' };

describe('poller configuration', () => {
  it('REVERSAL_CONFIRM_WINDOW: 15 min by default, a duration up to 15m, named with its rule when wrong', () => {
    expect(loadPollerConfig(base).REVERSAL_CONFIRM_WINDOW).toBe(900_000);
    expect(loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '90s' }).REVERSAL_CONFIRM_WINDOW).toBe(
      90_000,
    );
    expect(loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '' }).REVERSAL_CONFIRM_WINDOW).toBe(900_000);
    expect(() => loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '20m' })).toThrow(
      /REVERSAL_CONFIRM_WINDOW: must be at most 15m/,
    );
    expect(() => loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: 'soon' })).toThrow(
      /REVERSAL_CONFIRM_WINDOW: must be a duration/,
    );
  });
});
