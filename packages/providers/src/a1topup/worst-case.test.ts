import { describe, expect, it } from 'vitest';
import { worstCaseRechargeMs } from './worst-case.ts';

describe('A1Topup worst-case recharge time', () => {
  it('is the total timeout: one POST, never retried, its connect spent inside the timeout', () => {
    // PROVIDER_TIMEOUT_MS and PROVIDER_CONNECT_TIMEOUT_MS defaults (20 s, 5 s): 20 s, not 25 s.
    expect(worstCaseRechargeMs({ timeoutMs: 20_000, connectTimeoutMs: 5_000 })).toBe(20_000);
    // Their maxima (300 s, 60 s).
    expect(worstCaseRechargeMs({ timeoutMs: 300_000, connectTimeoutMs: 60_000 })).toBe(300_000);
    // The client's own defaults when nothing is given (30 s).
    expect(worstCaseRechargeMs({})).toBe(30_000);
  });

  it('refuses the options the client refuses, with the client message', () => {
    expect(() => worstCaseRechargeMs({ timeoutMs: 0 })).toThrow(
      'a1topup option timeoutMs must be a whole number from 1 to 600000',
    );
  });
});
