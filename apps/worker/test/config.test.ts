import { startApp } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';

describe('worker start-up configuration', () => {
  it('names each bad provider variable', async () => {
    const part = startApp('worker', {
      A1TOPUP_BASE_URL: 'not a url',
      A1TOPUP_USERNAME: '',
      A1TOPUP_PASSWORD: '',
      PROVIDER_TIMEOUT_MS: '0',
      A1TOPUP_FORMAT: 'yaml',
      A1TOPUP_RECHARGE_KEEP_ALIVE_MS: '90000',
      TELGOO5_RECHARGE_KEEP_ALIVE_MS: 'soon',
    });
    expect(await part.exited).toBe(2);
    const text = part.lines.join('\n');
    for (const name of [
      'A1TOPUP_BASE_URL',
      'A1TOPUP_USERNAME',
      'A1TOPUP_PASSWORD',
      'PROVIDER_TIMEOUT_MS',
      'A1TOPUP_FORMAT',
      'A1TOPUP_RECHARGE_KEEP_ALIVE_MS',
      'TELGOO5_RECHARGE_KEEP_ALIVE_MS',
    ]) {
      expect(text).toContain(`${name}:`);
    }
    expect(text).toContain('A1TOPUP_RECHARGE_KEEP_ALIVE_MS: must be at most 60000');
    expect(text).toContain('TELGOO5_RECHARGE_KEEP_ALIVE_MS: must be a number');
  });
});
