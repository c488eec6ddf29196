import { describe, expect, it } from 'vitest';
import { worstCaseRechargeMs } from './worst-case.ts';

describe('Telgoo5 worst-case recharge time', () => {
  it('counts every try: token wait, two sign-ins and the top-up, each at the full timeout', () => {
    // PROVIDER_TIMEOUT_MS default 20 s, client defaults authWaitMs 10 s and maxTokenRetries 3:
    // 4 tries × (10 000 + 2 × 20 000 + 20 000) = 4 × 70 000.
    expect(worstCaseRechargeMs({ timeoutMs: 20_000, connectTimeoutMs: 5_000 })).toBe(280_000);
    // PROVIDER_TIMEOUT_MS at its maximum: 4 × (10 000 + 3 × 300 000).
    expect(worstCaseRechargeMs({ timeoutMs: 300_000, connectTimeoutMs: 60_000 })).toBe(3_640_000);
    // The client's own defaults (timeoutMs 30 s): 4 × (10 000 + 3 × 30 000).
    expect(worstCaseRechargeMs({})).toBe(400_000);
  });

  it('follows the tries and the token wait the client is given', () => {
    expect(worstCaseRechargeMs({ timeoutMs: 1_000, maxTokenRetries: 0, authWaitMs: 0 })).toBe(3_000);
    expect(worstCaseRechargeMs({ timeoutMs: 1_000, maxTokenRetries: 10, authWaitMs: 500 })).toBe(11 * 3_500);
  });

  it('refuses the options the client refuses, with the client message', () => {
    expect(() => worstCaseRechargeMs({ maxTokenRetries: 11 })).toThrow(
      'telgoo5 option maxTokenRetries must be a whole number from 0 to 10',
    );
  });
});
