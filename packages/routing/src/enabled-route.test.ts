import { describe, expect, it } from 'vitest';
import { enabledRoute } from './enabled-route.ts';

describe('enabledRoute', () => {
  it('keeps the whole route when every provider is enabled', () => {
    expect(enabledRoute(['a1topup', 'a1topup_backup'], ['a1topup_backup', 'a1topup'])).toEqual({
      ok: true,
      route: ['a1topup', 'a1topup_backup'],
    });
  });

  it("drops providers that are not enabled and keeps the others in the route's order, in any case", () => {
    expect(enabledRoute(['a1topup_backup', 'telgoo5', 'a1topup'], ['A1TOPUP', 'a1topup_backup'])).toEqual({
      ok: true,
      route: ['a1topup_backup', 'a1topup'],
    });
    expect(enabledRoute(['a1topup_backup', 'a1topup'], ['a1topup'])).toEqual({
      ok: true,
      route: ['a1topup'],
    });
  });

  it('names the route and the enabled providers when none of the route is enabled', () => {
    expect(enabledRoute(['telgoo5'], ['a1topup'])).toEqual({
      ok: false,
      named: ['telgoo5'],
      enabled: ['a1topup'],
    });
    expect(enabledRoute(['a1topup', 'a1topup_backup'], [])).toEqual({
      ok: false,
      named: ['a1topup', 'a1topup_backup'],
      enabled: [],
    });
  });
});
