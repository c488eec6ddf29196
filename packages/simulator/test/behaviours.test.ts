import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, MAGIC_AMOUNTS, type Simulator } from '../src/index.ts';
import {
  call,
  json,
  PASS,
  postJson,
  rechargeParams,
  startReceiver,
  timedPost,
  USER,
  waitUntil,
} from './helpers.ts';

let sim: Simulator;
let base: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  sim = createSimulator({
    username: USER,
    password: PASS,
    seed: 3,
    slowMs: 400,
    settleAfterMs: 300,
    oversizeBytes: 200_000,
    callbackUrl: receiver.url,
  });
  base = (await sim.listen()).url;
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
});
beforeEach(() => sim.reset());

const post = (orderid: string, amount: string, extra: Record<string, string> = {}, signal?: AbortSignal) =>
  call(base, '/recharge/api', rechargeParams(orderid, amount, extra), 'POST', signal);

describe('magic amounts', () => {
  it('select every behaviour of the documented table', async () => {
    expect(Object.values(MAGIC_AMOUNTS)).toEqual([
      'failure',
      'pending_then_success',
      'pending_then_failure',
      'reversal_after_success',
      'slow',
      'timeout',
      'garbage',
      'html',
      'empty',
      'server_error',
      'reset',
      'oversize',
      'trickle',
    ]);
    expect((await post('m-13', '13')).body).toMatch(/^\d+,Failure,Recharge failed at operator,/);
    expect((await post('m-17', '17')).body).toMatch(/^\d+,Pending,/);
    expect(sim.order('m-13')).toMatchObject({ behaviour: 'failure', source: 'magic', status: 'failed' });
    expect(sim.order('m-17')).toMatchObject({ behaviour: 'pending_then_success', status: 'pending' });
    expect((await post('m-10', '10')).body).toMatch(/,Success,/);
    expect((await post('m-1300', '13.50')).body).toMatch(/,Success,/);
  });

  it('can be switched off', async () => {
    sim.configure({ magicAmounts: false });
    expect((await post('off-13', '13')).body).toMatch(/,Success,/);
    sim.configure({ magicAmounts: true });
  });
});

describe('transport faults record the order first', () => {
  it('garbage, html and empty answer HTTP 200 with no provider answer in them', async () => {
    const garbage = await post('f-37', '37');
    const html = await post('f-41', '41');
    const empty = await post('f-43', '43');
    expect(garbage.status).toBe(200);
    expect(garbage.body).not.toMatch(/Success|Failure|Pending/);
    expect(html.contentType).toContain('text/html');
    expect(html.body).toMatch(/^<!DOCTYPE html>/);
    expect(empty).toMatchObject({ status: 200, body: '' });
    for (const id of ['f-37', 'f-41', 'f-43'])
      expect(sim.order(id)).toMatchObject({ submissions: 1, status: 'success' });
  });

  it('server_error answers HTTP 500 after recording; the status API then tells the truth', async () => {
    const answer = await post('f-47', '47');
    expect(answer.status).toBe(500);
    const status = await call(base, '/recharge/status', { username: USER, pwd: PASS, orderid: 'f-47' });
    expect(status.body).toMatch(/^\d+,Success,[^,]+,9876543210,47,f-47$/);
  });

  it('reset destroys the connection without an answer', async () => {
    await expect(post('f-53', '53')).rejects.toThrow();
    expect(sim.order('f-53')).toMatchObject({ behaviour: 'reset', submissions: 1 });
  });

  it('oversize sends a real answer padded past any sane limit', async () => {
    const answer = await post('f-59', '59');
    expect(answer.body.length).toBe(200_000);
    expect(answer.body.trimEnd()).toMatch(/^\d+,Success,[^,]+,9876543210,59,f-59$/);
  });

  it('trickle (71) records, then sends the real answer one byte at a time, trickleByteMs apart', async () => {
    sim.configure({ trickleByteMs: 25 });
    const answer = await timedPost(
      `${base}/recharge/api`,
      new URLSearchParams(rechargeParams('f-71', '71')).toString(),
      'application/x-www-form-urlencoded',
    );
    sim.configure({ trickleByteMs: 1_000 });
    expect(answer.status).toBe(200);
    expect(answer.cut).toBe(false);
    expect(answer.body).toMatch(/^\d+,Success,[^,]+,9876543210,71,f-71$/);
    expect(answer.contentLength).toBe(answer.body.length);
    // One byte per write: the chunks arrive spread over (length - 1) pauses, never all at once.
    expect(answer.chunks.length).toBeGreaterThan(answer.body.length / 2);
    const spread = answer.chunks.at(-1)!.at - answer.chunks[0]!.at;
    expect(spread).toBeGreaterThanOrEqual((answer.body.length - 1) * 25 * 0.8);
    expect(sim.order('f-71')).toMatchObject({ behaviour: 'trickle', submissions: 1, status: 'success' });
  });

  it('trickle defaults to one byte per second', () => {
    expect(sim.config().trickleByteMs).toBe(1_000);
  });

  it('slow answers after the delay (a script may set it)', async () => {
    let started = Date.now();
    expect((await post('f-29', '29')).body).toMatch(/,Success,/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    sim.script({ orderid: 'slow-2', behaviour: 'slow', delayMs: 700 });
    started = Date.now();
    await post('slow-2', '10');
    expect(Date.now() - started).toBeGreaterThanOrEqual(680);
  });

  it('timeout records, then never answers; the outcome is visible in the status API', async () => {
    const started = Date.now();
    await expect(post('f-31', '31', {}, AbortSignal.timeout(400))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(sim.order('f-31')).toMatchObject({ behaviour: 'timeout', submissions: 1, status: 'success' });
  });

  it('a script can say the hidden outcome was a failure', async () => {
    sim.script({ orderid: 'hidden-fail', behaviour: 'server_error', outcome: 'failure' });
    expect((await post('hidden-fail', '10')).status).toBe(500);
    expect(sim.order('hidden-fail')?.status).toBe('failed');
    expect(sim.stats().balance).toBe('100000');
  });
});

describe('late results and callbacks', () => {
  it('pending_then_success settles on its own and calls back like the document says', async () => {
    receiver.hits.length = 0;
    const callback = receiver.next();
    const answer = await post('cb-17', '17', { format: 'json' });
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'Pending', orderid: 'cb-17' });
    const hit = await callback;
    expect(hit.pathname).toBe('/callbacks/a1topup/tok123');
    expect(Object.fromEntries(hit.searchParams)).toEqual({
      txid: 'cb-17',
      status: 'Success',
      opid: sim.order('cb-17')?.opid,
    });
    expect(sim.order('cb-17')?.status).toBe('success');
    await waitUntil('callback recorded', () => (sim.order('cb-17')?.callbacks.length ? true : undefined));
    expect(sim.order('cb-17')?.callbacks[0]).toMatchObject({
      status: 'Success',
      delivered: true,
      httpStatus: 200,
    });
  });

  it('pending_then_failure settles to Failure, refunds, and calls back Failure', async () => {
    const callback = receiver.next();
    await post('cb-19', '19');
    expect(sim.stats().balance).toBe('99981');
    expect((await callback).searchParams.get('status')).toBe('Failure');
    expect(sim.order('cb-19')?.status).toBe('failed');
    expect(sim.stats().balance).toBe('100000');
  });

  it('reversal_after_success answers Success, then flips to Failure with a Failure callback', async () => {
    const callback = receiver.next();
    expect((await post('cb-23', '23')).body).toMatch(/,Success,/);
    const hit = await callback;
    expect(Object.fromEntries(hit.searchParams)).toMatchObject({ txid: 'cb-23', status: 'Failure' });
    expect(sim.order('cb-23')).toMatchObject({
      status: 'failed',
      reversed: true,
      message: 'Reversed after dispute',
    });
    const status = await call(base, '/recharge/status', {
      username: USER,
      pwd: PASS,
      orderid: 'cb-23',
      format: 'json',
    });
    expect(JSON.parse(status.body)).toMatchObject({ status: 'Failure', message: 'Reversed after dispute' });
  });
});

describe('control API', () => {
  it('scripts by number apply to the next orders only (times), and by orderid to that order', async () => {
    const script = await json(
      base,
      '/_sim/script',
      postJson({ number: '9876543210', behaviour: 'failure', times: 2 }),
    );
    expect(script.status).toBe(201);
    expect((await post('n-1', '10')).body).toMatch(/,Failure,/);
    expect((await post('n-2', '10')).body).toMatch(/,Failure,/);
    expect((await post('n-3', '10')).body).toMatch(/,Success,/);
    expect(sim.order('n-1')?.source).toBe('script');
    await json(
      base,
      '/_sim/script',
      postJson({ orderid: 'o-1', behaviour: 'pending_then_success', settleAfterMs: 60_000 }),
    );
    expect((await post('o-1', '10')).body).toMatch(/,Pending,/);
  });

  it('refuses an invalid script with every problem named', async () => {
    const bad = await json<{ error: string }>(base, '/_sim/script', postJson({ behaviour: 'explode' }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/behaviour/);
    const none = await json<{ error: string }>(base, '/_sim/script', postJson({ behaviour: 'failure' }));
    expect(none.body.error).toMatch(/number or an orderid/);
  });

  it('settles a pending order on demand, and says when there is nothing to settle', async () => {
    sim.configure({ settleAfterMs: 60_000 });
    const callback = receiver.next();
    await post('st-17', '17');
    const settled = await json<{ status: string }>(base, '/_sim/settle/st-17', { method: 'POST' });
    expect(settled).toMatchObject({ status: 200, body: { status: 'success' } });
    expect((await callback).searchParams.get('txid')).toBe('st-17');
    expect((await json(base, '/_sim/settle/st-17', { method: 'POST' })).status).toBe(409);
    expect((await json(base, '/_sim/settle/unknown', { method: 'POST' })).status).toBe(404);
    sim.configure({ settleAfterMs: 300 });
  });

  it('shows orders, stats, requests and config, changes knobs at run time, and resets', async () => {
    await post('c-1', '10');
    const order = await json<{ submissions: number; number: string; requests: unknown[] }>(
      base,
      '/_sim/orders/c-1',
    );
    expect(order.body).toMatchObject({
      submissions: 1,
      number: '9876543210',
      requests: [{ method: 'POST' }],
    });
    expect((await json(base, '/_sim/orders/none')).status).toBe(404);
    const changed = await json(base, '/_sim/config', postJson({ latencyMs: 150, failureRate: 1 }));
    expect(changed).toMatchObject({ status: 200, body: { latencyMs: 150, failureRate: 1 } });
    const started = Date.now();
    expect((await post('c-2', '10')).body).toMatch(/,Failure,/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const tooMuch = await json<{ error: string }>(base, '/_sim/config', postJson({ pendingRate: 0.5 }));
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toMatch(/at most 1/);
    expect((await json(base, '/_sim/config', postJson({ nonsense: 1 }))).status).toBe(400);
    await json(base, '/_sim/config', postJson({ latencyMs: 0, failureRate: 0 }));
    const stats = await json<{ orders: number; byStatus: Record<string, number> }>(base, '/_sim/stats');
    expect(stats.body).toMatchObject({ orders: 2, byStatus: { success: 1, failed: 1, pending: 0 } });
    const requests = await json<{ requests: { endpoint: string }[] }>(base, '/_sim/requests');
    expect(requests.body.requests.map((r) => r.endpoint)).toEqual(['recharge', 'recharge']);
    expect((await json(base, '/_sim/reset', { method: 'POST' })).status).toBe(200);
    expect((await json<{ orders: number }>(base, '/_sim/stats')).body.orders).toBe(0);
  });
});
