import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator, type Telgoo5Stats } from '../src/index.ts';
import { json, postJson, timedPost } from './helpers.ts';

// The Telgoo5 part over real HTTP, as a client that knows nothing of the simulator would see it.
const CREDS = { vendor_id: 't5-vendor', username: 't5-user', password: 't5-password-Q9', pin: '4242' };
const logs: string[] = [];

let sim: Simulator;
let base: string;

interface Answer {
  status: number;
  text: string;
  body: Record<string, unknown> | undefined;
}

async function post(path: string, body: unknown, token?: string, method = 'POST'): Promise<Answer> {
  const response = await fetch(`${base}/telgoo5${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { token } : {}) },
    ...(method === 'GET' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, text, body: parsed };
}

async function login(): Promise<string> {
  const answer = await post('/authenticate', CREDS);
  expect(answer.body).toMatchObject({ msg: 'Success', msg_code: 'RESTAPI000' });
  return answer.body?.token as string;
}

function topup(extra: Record<string, unknown> = {}) {
  return {
    action: 'add_topup',
    enrollment_id: 'AGKN4441',
    plan_code: '1',
    payment_token: 'pay_profile_1',
    billing_state: 'WA',
    billing_city: 'SEATTLE',
    payment_method: 'CREDIT_CARD',
    agent_id: 't5-agent',
    source: 'API',
    topup_type: 'ADDON',
    addon_amount: '12',
    mdn: '4524400101',
    multi_topup_enrollment_ids: ['AGKN4441'],
    request_name: 'topup',
    vendor_id: 't5-vendor',
    ...extra,
  };
}

const stats = () => json<Telgoo5Stats>(base, '/_sim/telgoo5/stats').then((r) => r.body);

beforeAll(async () => {
  sim = createSimulator({
    seed: 3,
    holdMs: 150,
    telgoo5: {
      vendorId: CREDS.vendor_id,
      username: CREDS.username,
      password: CREDS.password,
      pin: CREDS.pin,
      agentIds: ['t5-agent', 't5-other'],
    },
    logger: {
      info: (fields, message) => logs.push(`${message} ${JSON.stringify(fields)}`),
      warn: (fields, message) => logs.push(`${message} ${JSON.stringify(fields)}`),
    },
  });
  base = (await sim.listen()).url;
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  await fetch(`${base}/_sim/reset`, { method: 'POST' });
  sim.configure({ telgoo5TokenTtlMs: 15 * 60_000, telgoo5DocumentBodies: false, magicAmounts: true });
});

describe('Telgoo5 authenticate', () => {
  it('issues a JWT that expires after the token TTL; wrong or missing credentials are refused without one', async () => {
    const before = Date.now();
    const token = await login();
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: number };
    expect(claims.exp * 1000).toBeGreaterThan(before + 15 * 60_000 - 1_500);
    expect(claims.exp * 1000).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    expect(JSON.stringify(claims)).not.toContain(CREDS.password);

    const wrong = await post('/authenticate', { ...CREDS, pin: '0000' });
    expect(wrong.body).toEqual({
      errors: ['Invalid Agent ID or Password'],
      msg: 'Invalid Agent ID or Password',
      msg_code: 'RESTAPI104',
    });
    const missing = await post('/authenticate', { vendor_id: 't5-vendor' });
    expect(missing.body).toMatchObject({
      msg_code: 'RESTAPI110',
      errors: ['Please enter username', 'Please enter password', 'Please enter pin'],
    });
    const get = await post('/authenticate', undefined, undefined, 'GET');
    expect(get.body).toMatchObject({ msg: 'Invalid Access!!', msg_code: 'RESTAPI001' });
    expect(await stats()).toMatchObject({ authentications: 1, authFailures: 3 });
  });
});

describe('Telgoo5 tokens: single use, 15 minutes, a fresh one in every answer', () => {
  it('refuses a reused, unknown, missing or expired token with the document messages, each answer carrying a new token', async () => {
    const first = await login();
    const ok = await post('/topup', topup(), first);
    expect(ok.body).toMatchObject({ data: {}, msg: 'Success', msg_code: 'RESTAPI000' });
    const next = ok.body?.token as string;
    expect(next).not.toBe(first);

    const reused = await post('/topup', topup(), first);
    expect(reused.body).toMatchObject({ msg: 'Token already used', msg_code: 'RESTAPI001' });
    const forged = await post('/topup', topup(), `${next.slice(0, -4)}AAAA`);
    expect(forged.body).toMatchObject({ msg: 'Invalid Token', msg_code: 'RESTAPI001' });
    const none = await post('/topup', topup());
    expect(none.body).toMatchObject({ msg: 'Invalid Token', msg_code: 'RESTAPI001' });
    const get = await post('/topup', undefined, next, 'GET');
    expect(get.body).toMatchObject({ msg: 'Invalid Access!!', msg_code: 'RESTAPI001' });

    // Each refusal carried a fresh token that works (and the forged one did not spend `next`).
    expect((await post('/topup', topup(), reused.body?.token as string)).body?.msg_code).toBe('RESTAPI000');
    expect((await post('/topup', topup(), next)).body?.msg_code).toBe('RESTAPI000');

    sim.configure({ telgoo5TokenTtlMs: 150 });
    const short = await login();
    await sleep(200);
    expect((await post('/topup', topup(), short)).body).toMatchObject({
      msg: 'Token expire',
      msg_code: 'RESTAPI001',
    });

    expect(await stats()).toMatchObject({
      topupsApplied: 3,
      tokenRejections: { invalid: 2, used: 1, expired: 1, access: 1 },
    });
    expect(sim.telgoo5.topups('4524400101')).toHaveLength(3);
  });

  it('invalidates outstanding tokens on request, and forgets all tokens on reset', async () => {
    const a = await login();
    const b = await login();
    const invalidated = await json<{ invalidated: number }>(
      base,
      '/_sim/telgoo5/tokens/invalidate',
      postJson({ as: 'used' }),
    );
    expect(invalidated.body.invalidated).toBe(2);
    expect((await post('/topup', topup(), a)).body?.msg).toBe('Token already used');
    const c = await login();
    await fetch(`${base}/_sim/reset`, { method: 'POST' });
    expect((await post('/topup', topup(), c)).body?.msg).toBe('Invalid Token');
    expect((await post('/topup', topup(), b)).body?.msg).toBe('Invalid Token');
    expect(await stats()).toMatchObject({
      authentications: 0,
      topupsApplied: 0,
      tokenRejections: { invalid: 2 },
    });
  });
});

describe('Telgoo5 add_topup validation', () => {
  it.each([
    [{ action: undefined }, 'RESTAPI102', 'Action required.'],
    [{ action: 'get_info' }, 'RESTAPI106', 'Action does not exist.'],
    [{ source: 'KIOSK' }, 'RESTAPI103', 'Source Not Allowed'],
    [{ agent_id: '' }, 'RESTAPI104', 'Agent Id should not be blank'],
    [{ agent_id: 'stranger' }, 'RESTAPI104', 'Invalid Agent Id'],
    [{ vendor_id: 'other-vendor' }, 'RESTAPI107', 'Invalid company.'],
    [{ enrollment_id: '' }, 'RESTAPI110', 'Error occurred'],
  ])('refuses %j with %s "%s" and applies nothing', async (change, code, msg) => {
    const answer = await post('/topup', topup(change), await login());
    expect(answer.body).toMatchObject({ msg_code: code, msg });
    expect(Array.isArray(answer.body?.errors)).toBe(true);
    expect(typeof answer.body?.token).toBe('string');
    expect((await stats()).topupsApplied).toBe(0);
  });

  it('lists every missing field in one RESTAPI110 errors array', async () => {
    const answer = await post(
      '/topup',
      topup({
        plan_code: undefined,
        payment_token: undefined,
        billing_city: '',
        addon_amount: '12.345',
        mdn: '12345',
        multi_topup_enrollment_ids: [],
        request_name: 'x',
        topup_type: 'GIFT',
        payment_method: 'CASH',
      }),
      await login(),
    );
    expect(answer.body).toMatchObject({
      msg: 'Error occurred',
      msg_code: 'RESTAPI110',
      errors: [
        'Please enter Plan Id or Plan Code',
        'Please enter Customer Token or Payment Token',
        'Please enter Billing City',
        'Please enter valid Payment Method',
        'Please enter valid Topup Type',
        'Please enter valid Addon Amount',
        'Please enter valid MDN',
        'Please enter Multi Topup Enrollment Ids',
        'Please enter valid Request Name',
      ],
    });
  });

  it('refuses a body that is not JSON with the envelope, not a framework error', async () => {
    const answer = await post('/topup', '{"action": "add_topup",', await login());
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ msg_code: 'RESTAPI110', errors: ['Invalid request body'] });
  });

  it('refuses any card field, at any depth, and counts it as a violation', async () => {
    const token = await login();
    const flat = await post('/topup', topup({ card_number: '4111111111111111', cvv: '123' }), token);
    expect(flat.body).toMatchObject({ msg_code: 'RESTAPI110' });
    expect(String(flat.body?.errors)).toMatch(/Card data is not accepted \(card_number, cvv\)/);
    const nested = await post(
      '/topup',
      topup({ payment: { expiration_month: '12' } }),
      flat.body?.token as string,
    );
    expect(nested.body).toMatchObject({ msg_code: 'RESTAPI110' });
    // Even with a bad token the request carried card data: counted.
    await post('/topup', topup({ name_on_card: 'JOHN DOE' }), 'not-a-token');
    expect(await stats()).toMatchObject({ cardFieldViolations: 3, topupsApplied: 0 });
    expect(logs.join('\n')).not.toContain('4111111111111111');
  });

  it('can render failures exactly like the document samples (invalid JSON: no comma after errors)', async () => {
    sim.configure({ telgoo5DocumentBodies: true });
    const answer = await post('/topup', topup({ source: 'KIOSK' }), await login());
    expect(answer.body).toBeUndefined();
    expect(answer.text).toMatch(
      /^\{\n {4}"errors":\["Source Not Allowed"\]\n {4}"msg": "Source Not Allowed",\n {4}"msg_code": "RESTAPI103",\n {4}"token": "[^"]+"\n\}$/,
    );
  });
});

describe('Telgoo5 behaviours: scripts by MDN and magic amounts', () => {
  it('a script applies to the next top-ups of its MDN, then success returns', async () => {
    const script = await json(
      base,
      '/_sim/telgoo5/script',
      postJson({ mdn: '4524400101', behaviour: 'failure', times: 2 }),
    );
    expect(script.status).toBe(201);
    let token = await login();
    const codes: unknown[] = [];
    for (let i = 0; i < 3; i += 1) {
      const answer = await post('/topup', topup(), token);
      codes.push(answer.body?.msg_code);
      token = answer.body?.token as string;
    }
    expect(codes).toEqual(['RESTAPI110', 'RESTAPI110', 'RESTAPI000']);
    expect(sim.telgoo5.topups('4524400101')).toHaveLength(1);
    const bad = await json(base, '/_sim/telgoo5/script', postJson({ mdn: '123', behaviour: 'nope' }));
    expect(bad.status).toBe(400);
  });

  it.each([
    ['47', 500],
    ['37', 200],
    ['41', 200],
  ])(
    'magic amount %s applies the top-up, then answers HTTP %i without an envelope',
    async (amount, status) => {
      const answer = await post('/topup', topup({ addon_amount: amount, mdn: '2065550147' }), await login());
      expect(answer.status).toBe(status);
      expect(answer.body?.msg_code).toBeUndefined();
      const topups = await json<{ count: number; applied: number }>(
        base,
        '/_sim/telgoo5/topups?mdn=2065550147',
      );
      expect(topups.body).toMatchObject({ count: 1, applied: 1 });
    },
  );

  it('magic 53 resets the connection and 31 holds it, both after applying', async () => {
    const reset = await post('/topup', topup({ addon_amount: '53', mdn: '2065550153' }), await login()).catch(
      (e: unknown) => e,
    );
    expect(reset).toBeInstanceOf(Error);
    const held = await post('/topup', topup({ addon_amount: '31', mdn: '2065550131' }), await login()).catch(
      (e: unknown) => e,
    );
    expect(held).toBeInstanceOf(Error);
    expect(sim.telgoo5.topups('2065550153')).toHaveLength(1);
    expect(sim.telgoo5.topups('2065550131')).toHaveLength(1);
    expect((await stats()).byBehaviour).toMatchObject({ reset: 1, timeout: 1 });
  });

  it('magic 71 applies the top-up, then trickles a real success envelope one byte at a time', async () => {
    sim.configure({ trickleByteMs: 3 });
    const answer = await timedPost(
      `${base}/telgoo5/topup`,
      JSON.stringify(topup({ addon_amount: '71', mdn: '2065550171' })),
      'application/json',
      { token: await login() },
    );
    sim.configure({ trickleByteMs: 1_000 });
    expect(answer).toMatchObject({ status: 200, cut: false });
    expect(answer.contentLength).toBe(Buffer.byteLength(answer.body));
    expect(JSON.parse(answer.body)).toMatchObject({ msg_code: 'RESTAPI000' });
    expect(answer.chunks.length).toBeGreaterThan(answer.body.length / 4);
    expect(sim.telgoo5.topups('2065550171')).toHaveLength(1);
    expect((await stats()).byBehaviour).toMatchObject({ trickle: 1 });
  });

  it('magic 13 is a RESTAPI110 refusal (not applied); with magic amounts off it is a plain success', async () => {
    const refused = await post('/topup', topup({ addon_amount: '13' }), await login());
    expect(refused.body).toMatchObject({
      msg_code: 'RESTAPI110',
      errors: ['Payment declined for the saved payment profile'],
    });
    sim.configure({ magicAmounts: false });
    expect((await post('/topup', topup({ addon_amount: '13' }), await login())).body?.msg_code).toBe(
      'RESTAPI000',
    );
    expect(sim.telgoo5.topups()).toHaveLength(1);
  });

  it('records each applied top-up; logs mask the MDN and never show a token or credential', async () => {
    logs.length = 0;
    const token = await login();
    await post('/topup', topup({ addon_amount: '12.50', plan_code: undefined, plan_id: '122' }), token);
    const listed = await json<{ count: number; topups: Record<string, unknown>[] }>(
      base,
      '/_sim/telgoo5/topups',
    );
    expect(listed.body.count).toBe(1);
    expect(listed.body.topups[0]).toMatchObject({
      mdn: '4524400101',
      enrollmentId: 'AGKN4441',
      amount: '12.50',
      amountCents: 1250,
      planId: '122',
      topupType: 'ADDON',
      behaviour: 'success',
    });
    const text = logs.join('\n');
    expect(text).toMatch(/telgoo5 simulator top-up applied/);
    expect(text).toContain('45******01');
    expect(text).not.toContain('4524400101');
    expect(text).not.toContain(token);
    expect(text).not.toContain(CREDS.password);
    expect(text).not.toContain('pay_profile_1');
    const requests = await json<{ requests: { fields: string[] }[] }>(base, '/_sim/telgoo5/requests');
    expect(JSON.stringify(requests.body)).not.toContain(token);
    expect(requests.body.requests.at(-1)?.fields).toContain('payment_token');
  });
});
