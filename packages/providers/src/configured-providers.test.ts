import { describe, expect, it } from 'vitest';
import { worstCaseRechargeTimes } from './configured-providers.ts';

// PROVIDER_TIMEOUT_MS and PROVIDER_CONNECT_TIMEOUT_MS as the env defaults them, and at their maxima.
const defaults = { PROVIDER_TIMEOUT_MS: 20_000, PROVIDER_CONNECT_TIMEOUT_MS: 5_000 };
const maxima = { PROVIDER_TIMEOUT_MS: 300_000, PROVIDER_CONNECT_TIMEOUT_MS: 60_000 };
const all = ['a1topup', 'a1topup_backup', 'telgoo5'];

describe('worstCaseRechargeTimes', () => {
  it('names each enabled provider with its worst case, in the order the clients are built', () => {
    expect(worstCaseRechargeTimes({ ...defaults, PROVIDERS: ['a1topup'] })).toEqual([
      { provider: 'a1topup', worstCaseMs: 20_000 },
    ]);
    expect(
      worstCaseRechargeTimes({ ...defaults, PROVIDERS: ['telgoo5', 'a1topup_backup', 'a1topup'] }),
    ).toEqual([
      { provider: 'a1topup', worstCaseMs: 20_000 },
      { provider: 'a1topup_backup', worstCaseMs: 20_000 },
      // 4 tries × (10 000 token wait + 2 × 20 000 sign-in + 20 000 top-up).
      { provider: 'telgoo5', worstCaseMs: 280_000 },
    ]);
  });

  it('at the largest PROVIDER_TIMEOUT_MS', () => {
    expect(worstCaseRechargeTimes({ ...maxima, PROVIDERS: all })).toEqual([
      { provider: 'a1topup', worstCaseMs: 300_000 },
      { provider: 'a1topup_backup', worstCaseMs: 300_000 },
      // 4 × (10 000 + 3 × 300 000).
      { provider: 'telgoo5', worstCaseMs: 3_640_000 },
    ]);
  });
});
