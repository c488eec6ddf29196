import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../src/index.ts';
import { call, PASS, rechargeParams, USER } from './helpers.ts';

let sim: Simulator;
let base: string;

beforeAll(async () => {
  sim = createSimulator({ username: USER, password: PASS, seed: 42, initialBalance: 1000 });
  base = (await sim.listen()).url;
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());

describe('recharge API', () => {
  it('answers csv by default, in the document field order, for GET and POST alike', async () => {
    const get = await call(base, '/recharge/api', rechargeParams('g-1', '10'), 'GET');
    const post = await call(base, '/recharge/api', rechargeParams('p-1', '10.50'), 'POST');
    expect(get.status).toBe(200);
    const [txid, status, opid, number, amount, orderid] = get.body.split(',');
    expect({ status, number, amount, orderid }).toEqual({
      status: 'Success',
      number: '9876543210',
      amount: '10',
      orderid: 'g-1',
    });
    expect(txid).toMatch(/^\d+$/);
    expect(opid).not.toBe('');
    expect(post.body).toMatch(/^\d+,Success,[^,]+,9876543210,10\.50,p-1$/);
    expect(sim.order('g-1')?.requests).toEqual([
      { method: 'GET', url: expect.stringContaining('/recharge/api?') },
    ]);
    expect(sim.order('p-1')?.requests).toEqual([{ method: 'POST', url: '/recharge/api' }]);
  });

  it('answers json and xml when asked', async () => {
    const j = await call(base, '/recharge/api', rechargeParams('j-1', '10', { format: 'JSON' }), 'POST');
    expect(j.contentType).toContain('application/json');
    expect(JSON.parse(j.body)).toMatchObject({
      status: 'Success',
      orderid: 'j-1',
      number: '9876543210',
      amount: '10',
    });
    const x = await call(base, '/recharge/api', rechargeParams('x-1', '10', { format: 'xml' }), 'POST');
    expect(x.body).toMatch(/<STATUS>Success<\/STATUS>.*<ORDERID>x-1<\/ORDERID>/);
    sim.configure({ xmlStyle: 'positional' });
    const p = await call(base, '/recharge/api', rechargeParams('x-2', '13', { format: 'xml' }), 'POST');
    expect(p.body).toMatch(/<Response><value>\d+<\/value><value>Failure<\/value><value>[^<]+<\/value>/);
    sim.configure({ xmlStyle: 'named' });
  });

  it('refuses wrong credentials and missing parameters with a Failure answer and records no order', async () => {
    const wrong = await call(base, '/recharge/api', { ...rechargeParams('w-1', '10'), pwd: 'nope' }, 'POST');
    expect(wrong.body).toBe('0,Failure,Invalid username or password,,,');
    const missing = await call(base, '/recharge/api', { username: USER, pwd: PASS, orderid: 'm-1' }, 'POST');
    expect(missing.body).toMatch(/^0,Failure,Missing parameter: operatorcode number amount,/);
    const bad = await call(base, '/recharge/api', rechargeParams('b-1', '10.999'), 'POST');
    expect(bad.body).toContain('Invalid amount');
    expect(sim.order('w-1')).toBeUndefined();
    expect(sim.order('m-1')).toBeUndefined();
    expect(sim.stats()).toMatchObject({ authFailures: 1, rejected: 2, orders: 0, submissions: 0 });
  });

  it('counts a repeated orderid and answers with the original transaction, executing it once', async () => {
    const first = await call(base, '/recharge/api', rechargeParams('dup-1', '100'), 'POST');
    const second = await call(
      base,
      '/recharge/api',
      rechargeParams('dup-1', '100', { format: 'json' }),
      'GET',
    );
    const third = await call(base, '/recharge/api', rechargeParams('dup-1', '250'), 'POST');
    const txid = first.body.split(',')[0];
    expect(JSON.parse(second.body)).toMatchObject({ txid, status: 'Success', amount: '100' });
    expect(third.body.split(',').slice(0, 2)).toEqual([txid, 'Success']);
    const order = sim.order('dup-1');
    expect(order?.submissions).toBe(3);
    expect(order?.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
    expect(sim.stats()).toMatchObject({ orders: 1, submissions: 3, duplicates: 2, balance: '900' });
  });

  it('records an amount above the balance as a Failure', async () => {
    const answer = await call(base, '/recharge/api', rechargeParams('big-1', '5000'), 'POST');
    expect(answer.body).toMatch(/^\d+,Failure,Insufficient balance,/);
    expect(sim.order('big-1')).toMatchObject({ status: 'failed', message: 'Insufficient balance' });
    expect(sim.stats().balance).toBe('1000');
  });
});

describe('status and balance APIs', () => {
  it('reports a known order, and No record found (orderid echoed) for an unknown one', async () => {
    await call(base, '/recharge/api', rechargeParams('s-1', '10'), 'POST');
    const known = await call(
      base,
      '/recharge/status',
      { username: USER, pwd: PASS, orderid: 's-1', format: 'json' },
      'POST',
    );
    expect(JSON.parse(known.body)).toMatchObject({ status: 'Success', orderid: 's-1' });
    const unknown = await call(
      base,
      '/recharge/status',
      { username: USER, pwd: PASS, orderid: 'nope-1' },
      'GET',
    );
    expect(unknown.body).toBe('0,Failure,No record found,,,nope-1');
    const wrong = await call(base, '/recharge/status', { username: USER, pwd: 'x', orderid: 's-1' }, 'POST');
    expect(wrong.body).toBe('0,Failure,Invalid username or password,,,');
    expect(sim.order('s-1')?.statusChecks).toBe(1);
  });

  it('reports the balance in all three formats and refuses wrong credentials', async () => {
    await call(base, '/recharge/api', rechargeParams('bal-1', '12.50'), 'POST');
    const csv = await call(base, '/recharge/balance', { username: USER, pwd: PASS }, 'POST');
    const js = await call(base, '/recharge/balance', { username: USER, pwd: PASS, format: 'json' }, 'GET');
    const xml = await call(base, '/recharge/balance', { username: USER, pwd: PASS, format: 'xml' }, 'POST');
    expect(csv.body).toBe('Success,987.50');
    expect(JSON.parse(js.body)).toEqual({ status: 'Success', balance: '987.50' });
    expect(xml.body).toContain('<BALANCE>987.50</BALANCE>');
    const wrong = await call(base, '/recharge/balance', { username: USER, pwd: 'x', format: 'json' }, 'POST');
    expect(JSON.parse(wrong.body)).toEqual({ status: 'Failure', message: 'Invalid username or password' });
    expect(sim.stats().requests).toEqual({ recharge: 1, status: 0, balance: 4 });
  });
});
