import { ConfigError } from '@rechargeflow/config';
import { freePort, startApp } from '@rechargeflow/testkit';
import { describe, expect, it } from 'vitest';
import { parseSimulatorConfig } from '../src/config.ts';

function problems(env: Record<string, string>): string[] {
  try {
    parseSimulatorConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('simulator start-up configuration', () => {
  it('stops with exit 2 naming each bad variable and its rule', async () => {
    const part = startApp('simulator', {
      SIMULATOR_PORT: '99999',
      SIM_FAILURE_RATE: '0.8',
      SIM_TIMEOUT_RATE: '0.5',
      SIM_CALLBACK_URL: 'ftp://nope',
      SIM_LATENCY_MS: 'soon',
      SIM_CALLBACK_COPIES: '0',
    });
    expect(await part.exited).toBe(2);
    const text = part.lines.join('\n');
    expect(text).toMatch(/SIMULATOR_PORT: must be between 0 and 65535/);
    expect(text).toMatch(/SIM_CALLBACK_URL: must be an http\(s\) URL/);
    expect(text).toMatch(/SIM_LATENCY_MS: must be a number of milliseconds/);
    expect(text).toMatch(/SIM_CALLBACK_COPIES: must be greater than 0/);
  });

  it('reads the callback copies (1-20) and concurrency (on/off), blank meaning the default', () => {
    expect(parseSimulatorConfig({})).toMatchObject({
      SIM_CALLBACK_COPIES: 1,
      SIM_CALLBACK_CONCURRENT: false,
    });
    expect(parseSimulatorConfig({ SIM_CALLBACK_COPIES: ' ', SIM_CALLBACK_CONCURRENT: '' })).toMatchObject({
      SIM_CALLBACK_COPIES: 1,
      SIM_CALLBACK_CONCURRENT: false,
    });
    expect(parseSimulatorConfig({ SIM_CALLBACK_COPIES: '20', SIM_CALLBACK_CONCURRENT: 'on' })).toMatchObject({
      SIM_CALLBACK_COPIES: 20,
      SIM_CALLBACK_CONCURRENT: true,
    });
    expect(parseSimulatorConfig({ SIM_CALLBACK_CONCURRENT: 'OFF' }).SIM_CALLBACK_CONCURRENT).toBe(false);
    expect(problems({ SIM_CALLBACK_COPIES: '21' })).toEqual(['SIM_CALLBACK_COPIES: must be at most 20']);
    expect(problems({ SIM_CALLBACK_COPIES: '2.5' })).toEqual(['SIM_CALLBACK_COPIES: must be a whole number']);
    expect(problems({ SIM_CALLBACK_COPIES: 'many' })).toEqual(['SIM_CALLBACK_COPIES: must be a number']);
    expect(problems({ SIM_CALLBACK_CONCURRENT: 'maybe' })).toEqual([
      'SIM_CALLBACK_CONCURRENT: must be on or off',
    ]);
  });

  it('applies the callback knobs at start-up and never logs the callback URL', async () => {
    const port = await freePort();
    const part = startApp('simulator', {
      SIMULATOR_PORT: String(port),
      SIM_CALLBACK_URL: 'http://127.0.0.1:9/callbacks/a1topup/secret-token-in-env',
      SIM_CALLBACK_COPIES: '3',
      SIM_CALLBACK_CONCURRENT: 'on',
      LOG_LEVEL: 'info',
    });
    try {
      await part.waitForLine(/A1Topup simulator listening/);
      const config = (await (await fetch(`http://127.0.0.1:${port}/_sim/config`)).json()) as Record<
        string,
        unknown
      >;
      expect(config).toMatchObject({ callbackCopies: 3, callbackConcurrent: true });
      expect(part.lines.join('\n')).toMatch(/"callbackCopies":3/);
    } finally {
      await part.stop();
    }
    expect(part.lines.join('\n')).not.toContain('secret-token-in-env');
  });
});
