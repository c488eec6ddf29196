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

  it('reads SIM_ANSWER_CALLBACK (off, before, after, race), blank meaning off, and its gap', () => {
    expect(parseSimulatorConfig({}).SIM_ANSWER_CALLBACK).toBe('off');
    expect(parseSimulatorConfig({ SIM_ANSWER_CALLBACK: ' ' }).SIM_ANSWER_CALLBACK).toBe('off');
    expect(parseSimulatorConfig({ SIM_ANSWER_CALLBACK: 'race' }).SIM_ANSWER_CALLBACK).toBe('race');
    expect(problems({ SIM_ANSWER_CALLBACK: 'always' })).toEqual([
      'SIM_ANSWER_CALLBACK: must be off, before, after or race',
    ]);
    expect(parseSimulatorConfig({}).SIM_ANSWER_CALLBACK_GAP_MS).toBe(0);
    expect(parseSimulatorConfig({ SIM_ANSWER_CALLBACK_GAP_MS: '40' }).SIM_ANSWER_CALLBACK_GAP_MS).toBe(40);
  });

  it('applies the callback knobs at start-up and never logs the callback URL', async () => {
    const port = await freePort();
    const part = startApp('simulator', {
      SIMULATOR_PORT: String(port),
      SIM_CALLBACK_URL: 'http://127.0.0.1:9/callbacks/a1topup/secret-token-in-env',
      SIM_CALLBACK_COPIES: '3',
      SIM_CALLBACK_CONCURRENT: 'on',
      SIM_ANSWER_CALLBACK: 'race',
      SIM_ANSWER_CALLBACK_GAP_MS: '25',
      LOG_LEVEL: 'info',
    });
    try {
      await part.waitForLine(/A1Topup simulator listening/);
      const config = (await (await fetch(`http://127.0.0.1:${port}/_sim/config`)).json()) as Record<
        string,
        unknown
      >;
      expect(config).toMatchObject({
        callbackCopies: 3,
        callbackConcurrent: true,
        answerCallback: 'race',
        answerCallbackGapMs: 25,
      });
      expect(part.lines.join('\n')).toMatch(/"callbackCopies":3/);
    } finally {
      await part.stop();
    }
    expect(part.lines.join('\n')).not.toContain('secret-token-in-env');
  });

  it('reads the Telgoo5 part: credentials, agents (comma-separated), token header, TTL and document bodies', () => {
    expect(parseSimulatorConfig({})).toMatchObject({
      TELGOO5_VENDOR_ID: 'demo-vendor',
      TELGOO5_USERNAME: 'demo',
      TELGOO5_PASSWORD: 'demo-password',
      TELGOO5_PIN: '1234',
      TELGOO5_AGENT_ID: ['demo-agent'],
      TELGOO5_TOKEN_HEADER: 'token',
      SIM_TELGOO5_TOKEN_TTL_MS: 900_000,
      SIM_TELGOO5_DOCUMENT_BODIES: false,
    });
    expect(
      parseSimulatorConfig({
        TELGOO5_AGENT_ID: ' a1, a2 ,',
        SIM_TELGOO5_TOKEN_TTL_MS: '2000',
        SIM_TELGOO5_DOCUMENT_BODIES: 'on',
      }),
    ).toMatchObject({
      TELGOO5_AGENT_ID: ['a1', 'a2'],
      SIM_TELGOO5_TOKEN_TTL_MS: 2_000,
      SIM_TELGOO5_DOCUMENT_BODIES: true,
    });
    expect(problems({ SIM_TELGOO5_TOKEN_TTL_MS: '0' })).toEqual([
      'SIM_TELGOO5_TOKEN_TTL_MS: must be greater than 0',
    ]);
    expect(problems({ TELGOO5_AGENT_ID: ',' })).toEqual([
      'TELGOO5_AGENT_ID: must name at least one agent id',
    ]);
    expect(problems({ TELGOO5_TOKEN_HEADER: 'a b' })).toEqual([
      'TELGOO5_TOKEN_HEADER: must be an HTTP header name such as token',
    ]);
  });

  it('serves the Telgoo5 part with the credentials from the environment and never logs them', async () => {
    const port = await freePort();
    const env = {
      SIMULATOR_PORT: String(port),
      TELGOO5_VENDOR_ID: 'env-vendor',
      TELGOO5_USERNAME: 'env-user',
      TELGOO5_PASSWORD: 'env-password-never-logged',
      TELGOO5_PIN: 'env-pin-never-logged',
      TELGOO5_AGENT_ID: 'env-agent',
      SIM_TELGOO5_TOKEN_TTL_MS: '60000',
      LOG_LEVEL: 'info',
    };
    const part = startApp('simulator', env);
    try {
      await part.waitForLine(/Telgoo5 simulator listening/);
      const base = `http://127.0.0.1:${port}`;
      const auth = (await (
        await fetch(`${base}/telgoo5/authenticate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            vendor_id: env.TELGOO5_VENDOR_ID,
            username: env.TELGOO5_USERNAME,
            password: env.TELGOO5_PASSWORD,
            pin: env.TELGOO5_PIN,
          }),
        })
      ).json()) as { msg_code: string; token: string };
      expect(auth.msg_code).toBe('RESTAPI000');
      const topup = (await (
        await fetch(`${base}/telgoo5/topup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', token: auth.token },
          body: JSON.stringify({
            action: 'add_topup',
            enrollment_id: 'AGKN4441',
            plan_code: '1',
            payment_token: 'pay_1234',
            billing_state: 'WA',
            billing_city: 'Seattle',
            payment_method: 'CREDIT_CARD',
            agent_id: 'env-agent',
            source: 'API',
            topup_type: 'ADDON',
            addon_amount: '10',
            mdn: '2065550123',
            multi_topup_enrollment_ids: ['AGKN4441'],
            request_name: 'topup',
            vendor_id: 'env-vendor',
          }),
        })
      ).json()) as { msg_code: string };
      expect(topup.msg_code).toBe('RESTAPI000');
      const config = (await (await fetch(`${base}/_sim/config`)).json()) as Record<string, unknown>;
      expect(config.telgoo5TokenTtlMs).toBe(60_000);
      const stats = (await (await fetch(`${base}/_sim/telgoo5/stats`)).json()) as Record<string, unknown>;
      expect(stats).toMatchObject({ authentications: 1, topupsApplied: 1 });
    } finally {
      await part.stop();
    }
    const text = part.lines.join('\n');
    expect(text).not.toContain('env-password-never-logged');
    expect(text).not.toContain('env-pin-never-logged');
    expect(text).not.toContain('2065550123');
  });
});
