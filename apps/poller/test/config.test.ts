import { retrySpanMs } from '@rechargeflow/queue';
import { describe, expect, it } from 'vitest';
import { loadPollerConfig, MAX_CONFIRM_WINDOW_MS } from '../src/config.ts';

const base = { A1TOPUP_USERNAME: 'u', A1TOPUP_PASSWORD: 'p' };

describe('poller configuration', () => {
  it('REVERSAL_CONFIRM_WINDOW: 15 min by default, a duration up to 15m, named with its rule when wrong', () => {
    expect(loadPollerConfig(base).REVERSAL_CONFIRM_WINDOW).toBe(900_000);
    expect(loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '90s' }).REVERSAL_CONFIRM_WINDOW).toBe(
      90_000,
    );
    expect(loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '' }).REVERSAL_CONFIRM_WINDOW).toBe(900_000);
    expect(() => loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: '20m' })).toThrow(
      /REVERSAL_CONFIRM_WINDOW: must be at most 15m \(the callback job asks again with back-off for about 17 min\)/,
    );
    // The callback job's retries (the job catalogue's) outlast the longest window.
    expect(retrySpanMs('callback.apply')).toBe(1_022_000);
    expect(MAX_CONFIRM_WINDOW_MS).toBeLessThan(retrySpanMs('callback.apply'));
    expect(() => loadPollerConfig({ ...base, REVERSAL_CONFIRM_WINDOW: 'soon' })).toThrow(
      /REVERSAL_CONFIRM_WINDOW: must be a duration/,
    );
  });

  it('PROCESSING_STUCK_AFTER_MS: refused unless longer than the longest recharge call of every provider in use plus 30 s', () => {
    // Defaults: a1topup, PROVIDER_TIMEOUT_MS 20 s: 20 000 + 30 000 < 120 000.
    expect(loadPollerConfig(base).PROCESSING_STUCK_AFTER_MS).toBe(120_000);
    // Unset, it follows the longest call: 300 s + 2 × 30 s.
    expect(loadPollerConfig({ ...base, PROVIDER_TIMEOUT_MS: '300000' }).PROCESSING_STUCK_AFTER_MS).toBe(
      360_000,
    );
    // The largest PROVIDER_TIMEOUT_MS with a stuck time set to the old default: refused, naming both and the provider.
    const refused = () =>
      loadPollerConfig({ ...base, PROVIDER_TIMEOUT_MS: '300000', PROCESSING_STUCK_AFTER_MS: '120000' });
    expect(refused).toThrow(
      'PROCESSING_STUCK_AFTER_MS: must be more than 330000 (is 120000): one a1topup recharge call may take 300000 ms with PROVIDER_TIMEOUT_MS=300000, plus a 30000 ms margin, or an order whose call is still running is moved to pending',
    );
    // Consistent: a stuck time past the bound; exactly the bound is not enough.
    expect(
      loadPollerConfig({ ...base, PROVIDER_TIMEOUT_MS: '300000', PROCESSING_STUCK_AFTER_MS: '330001' })
        .PROCESSING_STUCK_AFTER_MS,
    ).toBe(330_001);
    expect(() =>
      loadPollerConfig({ ...base, PROVIDER_TIMEOUT_MS: '300000', PROCESSING_STUCK_AFTER_MS: '330000' }),
    ).toThrow(/PROCESSING_STUCK_AFTER_MS: must be more than 330000 \(is 330000\)/);
  });

  it('PROCESSING_STUCK_AFTER_MS: the provider with the longest call decides (Telgoo5 signs in and retries)', () => {
    const telgoo5 = {
      ...base,
      PROVIDERS: 'a1topup,telgoo5',
      TELGOO5_VENDOR_ID: 'v',
      TELGOO5_USERNAME: 'u',
      TELGOO5_PASSWORD: 'p',
      TELGOO5_PIN: '1234',
      TELGOO5_AGENT_ID: 'a',
    };
    // 4 tries × (10 s token wait + 2 × 20 s sign-in + 20 s top-up) = 280 s, + 30 s.
    expect(loadPollerConfig(telgoo5).PROCESSING_STUCK_AFTER_MS).toBe(340_000);
    expect(() => loadPollerConfig({ ...telgoo5, PROCESSING_STUCK_AFTER_MS: '120000' })).toThrow(
      /PROCESSING_STUCK_AFTER_MS: must be more than 310000 \(is 120000\): one telgoo5 recharge call may take 280000 ms with PROVIDER_TIMEOUT_MS=20000/,
    );
    expect(
      loadPollerConfig({ ...telgoo5, PROCESSING_STUCK_AFTER_MS: '360000' }).PROCESSING_STUCK_AFTER_MS,
    ).toBe(360_000);
    // A shorter timeout shortens every try: 4 × (10 s + 3 × 3 s) = 76 s, + 30 s.
    expect(
      loadPollerConfig({ ...telgoo5, PROVIDER_TIMEOUT_MS: '3000', PROCESSING_STUCK_AFTER_MS: '106001' })
        .PROCESSING_STUCK_AFTER_MS,
    ).toBe(106_001);
  });

  it('PROCESSING_STUCK_AFTER_MS: reported with the other problems of the same environment', () => {
    expect(() =>
      loadPollerConfig({
        PROVIDER_TIMEOUT_MS: '300000',
        PROCESSING_STUCK_AFTER_MS: '120000',
        LOG_LEVEL: 'loud',
      }),
    ).toThrow(
      /LOG_LEVEL: must be one of[\s\S]*A1TOPUP_USERNAME: is required[\s\S]*PROCESSING_STUCK_AFTER_MS: must be more than 330000 \(is 120000\)/,
    );
    // A bad value the rule reads is named by its own rule, not taken for a short stuck time.
    const problems = (() => {
      try {
        loadPollerConfig({ ...base, PROVIDER_TIMEOUT_MS: '300001' });
        return '';
      } catch (error) {
        return String(error);
      }
    })();
    expect(problems).toContain('PROVIDER_TIMEOUT_MS: must be at most 300000');
    expect(problems).not.toContain('PROCESSING_STUCK_AFTER_MS');
  });
});
