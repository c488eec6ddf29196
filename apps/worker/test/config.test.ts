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
    });
    expect(await part.exited).toBe(2);
    const text = part.lines.join('\n');
    for (const name of [
      'A1TOPUP_BASE_URL',
      'A1TOPUP_USERNAME',
      'A1TOPUP_PASSWORD',
      'PROVIDER_TIMEOUT_MS',
      'A1TOPUP_FORMAT',
    ]) {
      expect(text).toContain(`${name}:`);
    }
  });
});
