import { startApp } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';

describe('simulator start-up configuration', () => {
  it('stops with exit 2 naming each bad variable and its rule', async () => {
    const part = startApp('simulator', {
      SIMULATOR_PORT: '99999',
      SIM_FAILURE_RATE: '0.8',
      SIM_TIMEOUT_RATE: '0.5',
      SIM_CALLBACK_URL: 'ftp://nope',
      SIM_LATENCY_MS: 'soon',
    });
    expect(await part.exited).toBe(2);
    const text = part.lines.join('\n');
    expect(text).toMatch(/SIMULATOR_PORT: must be between 0 and 65535/);
    expect(text).toMatch(/SIM_CALLBACK_URL: must be an http\(s\) URL/);
    expect(text).toMatch(/SIM_LATENCY_MS: must be a number of milliseconds/);
  });
});
