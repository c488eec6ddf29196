import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type BookEntry,
  type CallbackBatch,
  type CallbackRecord,
  createSimulator,
  keyedDraw,
  type OrderView,
  type ReverseResult,
  type Simulator,
  SimulatorError,
} from '../src/index.ts';
import {
  call,
  json,
  PASS,
  postJson,
  type Receiver,
  rechargeParams,
  startReceiver,
  USER,
  waitUntil,
} from './helpers.ts';

let sim: Simulator;
let base: string;
let receiver: Receiver;
let other: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  other = await startReceiver();
  sim = createSimulator({
    username: USER,
    password: PASS,
    seed: 5,
    settleAfterMs: 60_000,
    callbackUrl: receiver.url,
  });
  base = (await sim.listen()).url;
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
  await other.close();
});
beforeEach(() => {
  sim.reset();
  sim.configure({
    callbackUrl: receiver.url,
    callbackCopies: 1,
    callbackConcurrent: false,
    answerCallback: 'off',
    answerCallbackGapMs: 0,
  });
  receiver.behave({});
  receiver.clear();
  other.behave({});
  other.clear();
});

const recharge = (orderid: string, amount: string) =>
  call(base, '/recharge/api', rechargeParams(orderid, amount), 'POST');

const statusApi = async (orderid: string) =>
  JSON.parse(
    (await call(base, '/recharge/status', { username: USER, pwd: PASS, orderid, format: 'json' }, 'POST'))
      .body,
  ) as { status: string; opid: string; message?: string };

const params = (hits: readonly URL[]) => hits.map((u) => Object.fromEntries(u.searchParams));

/** Requests answered before `later` started: proves one batch finished before the next began. */
function allBefore(earlier: Receiver['received'], later: Receiver['received']): boolean {
  const lastAnswer = Math.max(...earlier.map((r) => r.answered ?? Number.POSITIVE_INFINITY));
  return later.every((r) => r.arrived >= lastAnswer);
}

describe('automatic callbacks in copies', () => {
  it('sends a late result callbackCopies times, one after another by default', async () => {
    sim.configure({ callbackCopies: 3 });
    receiver.behave({ delayMs: 60 });
    await recharge('auto-17', '17');
    expect(sim.settle('auto-17')).toMatchObject({ status: 'success' });
    await receiver.answered(3);
    const opid = sim.order('auto-17')?.opid;
    expect(params(receiver.hits)).toEqual(Array(3).fill({ txid: 'auto-17', status: 'Success', opid }));
    expect(receiver.maxInFlight()).toBe(1);
    const records = await waitUntil('3 records', () => {
      const cbs = sim.order('auto-17')?.callbacks;
      return cbs?.length === 3 ? cbs : undefined;
    });
    expect(records.map((r) => [r.trigger, r.status, r.opid, r.copy, r.copies, r.httpStatus])).toEqual([
      ['settle', 'Success', opid, 1, 3, 200],
      ['settle', 'Success', opid, 2, 3, 200],
      ['settle', 'Success', opid, 3, 3, 200],
    ]);
    expect(records[0]).toMatchObject({ target: 'configured', delivered: true, element: 0 });
    expect(records.every((r) => r.ms >= 50)).toBe(true);
    expect(sim.stats().callbacks).toEqual({ sent: 3, delivered: 3, failed: 0 });
  });

  it('sends a reversal callbackCopies times at once when callbackConcurrent', async () => {
    sim.configure({ callbackCopies: 5, callbackConcurrent: true });
    receiver.behave({ delayMs: 200 });
    sim.script({ orderid: 'auto-23', behaviour: 'reversal_after_success', settleAfterMs: 10 });
    await recharge('auto-23', '10');
    await receiver.answered(5);
    expect(params(receiver.hits).map((p) => [p.txid, p.status])).toEqual(
      Array(5).fill(['auto-23', 'Failure']),
    );
    expect(receiver.maxInFlight()).toBe(5);
    const records = await waitUntil('5 records', () => {
      const cbs = sim.order('auto-23')?.callbacks;
      return cbs?.length === 5 ? cbs : undefined;
    });
    expect(records.map((r) => r.copy)).toEqual([1, 2, 3, 4, 5]);
    expect(records.every((r) => r.trigger === 'reversal' && r.status === 'Failure')).toBe(true);
    expect(sim.order('auto-23')).toMatchObject({ status: 'failed', reversed: true });
  });
});

describe('POST /_sim/callbacks', () => {
  it('sends one callback with the current status by default, and answers after its delivery', async () => {
    await recharge('m-1', '10');
    const sent = await json<CallbackBatch>(base, '/_sim/callbacks', postJson({ orderid: 'm-1' }));
    const opid = sim.order('m-1')?.opid ?? '';
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      orderid: 'm-1',
      target: 'configured',
      sequence: [{ status: 'Success', opid }],
      copies: 1,
      concurrent: false,
      gapMs: 0,
      sent: 1,
      delivered: 1,
      deliveries: [{ status: 'Success', opid, trigger: 'manual', copy: 1, httpStatus: 200, delivered: true }],
    });
    // Already delivered when the control request answers: no waiting needed in tests.
    expect(params(receiver.hits)).toEqual([{ txid: 'm-1', status: 'Success', opid }]);
    expect(sim.order('m-1')?.callbacks).toEqual(sent.body.deliveries);

    await recharge('m-13', '13');
    const failure = await sim.sendCallbacks({ orderid: 'm-13' });
    expect(failure.sequence).toEqual([{ status: 'Failure', opid: sim.order('m-13')?.opid }]);
  });

  it('keeps the sequence order, each element in sequential copies, gapMs apart', async () => {
    await recharge('seq-1', '10');
    const opid = sim.order('seq-1')?.opid;
    const batch = await sim.sendCallbacks({
      orderid: 'seq-1',
      sequence: [
        { status: 'Failure', opid: 'REV-1' },
        { status: 'Success' },
        { status: 'Failure', opid: '' },
      ],
      copies: 2,
      gapMs: 150,
    });
    expect(params(receiver.hits)).toEqual([
      { txid: 'seq-1', status: 'Failure', opid: 'REV-1' },
      { txid: 'seq-1', status: 'Failure', opid: 'REV-1' },
      { txid: 'seq-1', status: 'Success', opid },
      { txid: 'seq-1', status: 'Success', opid },
      { txid: 'seq-1', status: 'Failure', opid: '' },
      { txid: 'seq-1', status: 'Failure', opid: '' },
    ]);
    expect(receiver.maxInFlight()).toBe(1);
    expect(batch.deliveries.map((d) => [d.element, d.copy])).toEqual([
      [0, 1],
      [0, 2],
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
    ]);
    expect(batch).toMatchObject({ sent: 6, delivered: 6 });
    const [, second, third] = receiver.received;
    expect((third?.arrived ?? 0) - (second?.answered ?? 0)).toBeGreaterThanOrEqual(140);
  });

  it('sends the copies of each element at once when concurrent, still element after element', async () => {
    receiver.behave({ delayMs: 150 });
    await recharge('conc-1', '10');
    // The out-of-order case: the reversal's Failure arrives before the late Success.
    const batch = await sim.sendCallbacks({
      orderid: 'conc-1',
      sequence: [{ status: 'Failure' }, { status: 'Success' }],
      copies: 4,
      concurrent: true,
    });
    expect(params(receiver.hits).map((p) => p.status)).toEqual([
      ...Array(4).fill('Failure'),
      ...Array(4).fill('Success'),
    ]);
    expect(receiver.maxInFlight()).toBe(4);
    expect(allBefore(receiver.received.slice(0, 4), receiver.received.slice(4))).toBe(true);
    expect(batch.deliveries.map((d) => d.status)).toEqual([
      ...Array(4).fill('Failure'),
      ...Array(4).fill('Success'),
    ]);
    expect(batch.deliveries.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('sends to a url given in the body instead of the configured one', async () => {
    await recharge('url-1', '10');
    const batch = await sim.sendCallbacks({ orderid: 'url-1', url: other.url, copies: 2 });
    expect(batch.target).toBe('given');
    expect(other.hits).toHaveLength(2);
    expect(receiver.hits).toHaveLength(0);
    expect(JSON.stringify(batch)).not.toContain('tok123');
  });

  it('records the receiver HTTP status, and a delivery that times out, within callbackTimeoutMs', async () => {
    await recharge('h-1', '10');
    receiver.behave({ statusCode: 500 });
    const refused = await sim.sendCallbacks({ orderid: 'h-1' });
    expect(refused.deliveries[0]).toMatchObject({ delivered: false, httpStatus: 500 });
    expect(refused.delivered).toBe(0);
    sim.configure({ callbackTimeoutMs: 200 });
    receiver.behave({ delayMs: 2_000 });
    const started = Date.now();
    const slow = await sim.sendCallbacks({ orderid: 'h-1', copies: 2, concurrent: true });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(slow.deliveries.map((d) => d.delivered)).toEqual([false, false]);
    expect(slow.deliveries[0]?.error).toBeTruthy();
    expect(slow.deliveries[0]?.httpStatus).toBeUndefined();
    expect(sim.stats().callbacks).toEqual({ sent: 3, delivered: 0, failed: 3 });
    sim.configure({ callbackTimeoutMs: 5_000 });
  });

  it('refuses unknown orders, pending orders without a sequence, no URL at all, and bad bodies', async () => {
    expect((await json(base, '/_sim/callbacks', postJson({ orderid: 'none' }))).status).toBe(404);
    await recharge('p-17', '17');
    const pending = await json<{ error: string }>(base, '/_sim/callbacks', postJson({ orderid: 'p-17' }));
    expect(pending.status).toBe(409);
    expect(pending.body.error).toMatch(/pending/);
    const explicit = await sim.sendCallbacks({ orderid: 'p-17', sequence: [{ status: 'Success' }] });
    expect(explicit.delivered).toBe(1);
    sim.configure({ callbackUrl: null });
    expect(
      (await json(base, '/_sim/callbacks', postJson({ orderid: 'p-17', sequence: [{ status: 'Success' }] })))
        .status,
    ).toBe(409);
    for (const bad of [
      { orderid: 'p-17', copies: 0 },
      { orderid: 'p-17', copies: 21 },
      { orderid: 'p-17', sequence: [{ status: 'Pending' }] },
      { orderid: 'p-17', sequence: [] },
      { orderid: 'p-17', gapMs: -1 },
      { orderid: 'p-17', url: 'ftp://x/y' },
      { orderid: 'p-17', surprise: true },
      {},
    ]) {
      expect((await json(base, '/_sim/callbacks', postJson(bad))).status, JSON.stringify(bad)).toBe(400);
    }
    await expect(sim.sendCallbacks({ orderid: 'none' })).rejects.toMatchObject({ statusCode: 404 });
    await expect(sim.sendCallbacks({ orderid: 'p-17', copies: 99 })).rejects.toBeInstanceOf(SimulatorError);
  });
});

describe('POST /_sim/reverse/:orderid', () => {
  it('reverses a Success order now, restores the balance, and sends its Failure callback', async () => {
    await recharge('r-1', '10');
    expect(sim.stats().balance).toBe('99990');
    const reversed = await json<ReverseResult>(base, '/_sim/reverse/r-1', { method: 'POST' });
    expect(reversed.status).toBe(200);
    expect(reversed.body.order).toMatchObject({
      status: 'failed',
      reversed: true,
      message: 'Reversed after dispute',
    });
    expect(reversed.body.callbacks).toMatchObject([
      { status: 'Failure', trigger: 'reversal', httpStatus: 200 },
    ]);
    expect(params(receiver.hits)).toEqual([{ txid: 'r-1', status: 'Failure', opid: sim.order('r-1')?.opid }]);
    expect(await statusApi('r-1')).toMatchObject({ status: 'Failure', message: 'Reversed after dispute' });
    expect(sim.stats()).toMatchObject({ balance: '100000', reversed: 1 });
    const again = await json<{ error: string }>(base, '/_sim/reverse/r-1', { method: 'POST' });
    expect(again.status).toBe(409);
    expect((await json(base, '/_sim/reverse/none', { method: 'POST' })).status).toBe(404);
    await recharge('r-17', '17');
    expect((await json(base, '/_sim/reverse/r-17', { method: 'POST' })).status).toBe(409);
    expect((await json(base, '/_sim/reverse/r-17', postJson({ callback: 'no' }))).status).toBe(400);
  });

  it('can reverse without the callback, so a test sends it itself (in copies)', async () => {
    await recharge('r-2', '10');
    const result = await sim.reverse('r-2', { callback: false });
    expect(result.callbacks).toEqual([]);
    expect(await statusApi('r-2')).toMatchObject({ status: 'Failure' });
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.hits).toHaveLength(0);
    const batch = await sim.sendCallbacks({ orderid: 'r-2', copies: 3, concurrent: true });
    expect(batch.sequence).toEqual([{ status: 'Failure', opid: sim.order('r-2')?.opid }]);
    expect(receiver.hits).toHaveLength(3);
  });

  it('follows the callback knobs, and cancels a scheduled reversal (refunded once)', async () => {
    sim.configure({ callbackCopies: 2, callbackConcurrent: true });
    sim.script({ orderid: 'r-23', behaviour: 'reversal_after_success', settleAfterMs: 300 });
    await recharge('r-23', '10');
    const result = await sim.reverse('r-23');
    expect(result.callbacks.map((c) => c.copy)).toEqual([1, 2]);
    expect(sim.settle('r-23')).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.hits).toHaveLength(2);
    expect(sim.stats().balance).toBe('100000');
  });
});

describe('POST /_sim/status/:orderid', () => {
  it('forces the status API answer until cleared, without touching the order or the balance', async () => {
    await recharge('s-1', '10');
    const opid = sim.order('s-1')?.opid;
    const forced = await json<OrderView>(base, '/_sim/status/s-1', postJson({ status: 'Failure' }));
    expect(forced).toMatchObject({ status: 200, body: { status: 'success', forcedStatus: 'Failure' } });
    expect(await statusApi('s-1')).toMatchObject({ status: 'Failure', opid: '' });
    sim.forceStatus('s-1', 'Pending');
    expect(await statusApi('s-1')).toMatchObject({ status: 'Pending', opid });
    // The repeat-orderid answer of the recharge API still tells the real state.
    expect((await recharge('s-1', '10')).body).toMatch(/,Success,/);
    await json(base, '/_sim/status/s-1', postJson({ status: null }));
    expect(await statusApi('s-1')).toMatchObject({ status: 'Success', opid });
    expect(sim.order('s-1')?.forcedStatus).toBeUndefined();
    expect(sim.stats().balance).toBe('99990');
  });

  it('lets a Failure callback go unconfirmed: the status API keeps answering Success', async () => {
    await recharge('s-2', '10');
    sim.forceStatus('s-2', 'Success');
    await sim.reverse('s-2', { callback: false });
    await sim.sendCallbacks({ orderid: 's-2', sequence: [{ status: 'Failure' }] });
    expect(params(receiver.hits).map((p) => p.status)).toEqual(['Failure']);
    expect(await statusApi('s-2')).toMatchObject({ status: 'Success', opid: sim.order('s-2')?.opid });
  });

  it('refuses unknown orders and bad statuses', async () => {
    await recharge('s-3', '10');
    expect((await json(base, '/_sim/status/none', postJson({ status: 'Success' }))).status).toBe(404);
    expect((await json(base, '/_sim/status/s-3', postJson({ status: 'Reversed' }))).status).toBe(400);
    expect((await json(base, '/_sim/status/s-3', postJson({}))).status).toBe(400);
    expect(() => sim.forceStatus('none', 'Success')).toThrow(SimulatorError);
  });
});

describe('the callback of a definite answer (answerCallback)', () => {
  /** A recharge over HTTP, with when its answer arrived (performance.now). */
  const timedRecharge = async (orderid: string, amount: string) => {
    const answer = await recharge(orderid, amount);
    return { ...answer, at: performance.now() };
  };

  it('is off by default: a refusal or a plain success sends no callback', async () => {
    await recharge('off-13', '13');
    await recharge('off-10', '10');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.hits).toHaveLength(0);
    expect(sim.stats().answerCallbacks).toEqual({ before: 0, after: 0 });
  });

  it('before: the Failure callback is delivered before the refusal is sent', async () => {
    sim.configure({ answerCallback: 'before' });
    receiver.behave({ delayMs: 300 });
    const started = performance.now();
    const answer = await timedRecharge('b-13', '13');
    expect(answer.body).toMatch(/,Failure,/);
    expect(answer.at - started).toBeGreaterThanOrEqual(290);
    const [hit] = receiver.received;
    expect(hit?.answered).toBeLessThanOrEqual(answer.at);
    expect(params(receiver.hits)).toEqual([
      { txid: 'b-13', status: 'Failure', opid: sim.order('b-13')?.opid },
    ]);
    expect(sim.order('b-13')).toMatchObject({ answerCallback: 'before', status: 'failed' });
    expect(sim.order('b-13')?.callbacks).toMatchObject([
      { trigger: 'answer', status: 'Failure', delivered: true },
    ]);
    expect(sim.stats().answerCallbacks).toEqual({ before: 1, after: 0 });
  });

  it('after: the answer does not wait; the callback starts once it has been sent, in copies', async () => {
    sim.configure({ answerCallback: 'after', callbackCopies: 2, callbackConcurrent: true });
    receiver.behave({ delayMs: 300 });
    const started = performance.now();
    const answer = await timedRecharge('a-10', '10');
    expect(answer.body).toMatch(/,Success,/);
    expect(answer.at - started).toBeLessThan(250);
    await receiver.answered(2);
    expect(receiver.received.every((r) => r.arrived >= answer.at)).toBe(true);
    expect(params(receiver.hits).map((p) => p.status)).toEqual(['Success', 'Success']);
    expect(sim.order('a-10')).toMatchObject({ answerCallback: 'after' });
    expect(sim.stats().answerCallbacks).toEqual({ before: 0, after: 1 });
  });

  it('answerCallbackGapMs spreads the race: each order waits its own seeded share of it', async () => {
    sim.configure({ answerCallback: 'before', answerCallbackGapMs: 300 });
    const share = (id: string) => Math.floor(keyedDraw(sim.seed, `${id}:gap`) * 300);
    for (const id of ['gap-1', 'gap-2', 'gap-3']) {
      receiver.clear();
      const answer = await timedRecharge(id, '13');
      const waited = answer.at - (receiver.received[0]?.answered ?? Number.NaN);
      expect(waited, id).toBeGreaterThanOrEqual(share(id) - 2);
      expect(waited, id).toBeLessThan(share(id) + 150);
    }
    sim.configure({ answerCallback: 'after' });
    for (const id of ['gap-4', 'gap-5']) {
      receiver.clear();
      const answer = await timedRecharge(id, '10');
      await receiver.answered(1, 2_000);
      const waited = (receiver.received[0]?.arrived ?? Number.NaN) - answer.at;
      expect(waited, id).toBeGreaterThanOrEqual(share(id) - 5);
      expect(waited, id).toBeLessThan(share(id) + 150);
    }
    sim.configure({ answerCallbackGapMs: 0 });
  });

  it('only for definite answers: not for a Pending answer nor an unreadable one', async () => {
    sim.configure({ answerCallback: 'before', settleAfterMs: 60_000 });
    await recharge('p-17', '17');
    await recharge('g-37', '37');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.hits).toHaveLength(0);
    expect(sim.order('p-17')?.answerCallback).toBeUndefined();
    sim.configure({ settleAfterMs: 300 });
  });

  it('race: before or after per order, from the seed and the orderid whatever the arrival order', async () => {
    sim.configure({ answerCallback: 'race' });
    const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    for (const id of ids) await recharge(id, '13');
    const first = ids.map((id) => sim.order(id)?.answerCallback);
    expect(new Set(first)).toEqual(new Set(['before', 'after']));
    await receiver.answered(40);
    expect(sim.stats().answerCallbacks.before + sim.stats().answerCallbacks.after).toBe(40);
    sim.reset();
    for (const id of [...ids].reverse()) await recharge(id, '13');
    expect(ids.map((id) => sim.order(id)?.answerCallback)).toEqual(first);
    await receiver.answered(80);
  });
});

describe('GET /_sim/orders: the books', () => {
  it('lists every order received, oldest first, with what was charged and how often it was sent', async () => {
    sim.configure({ settleAfterMs: 60_000 });
    await recharge('bk-10', '10');
    await recharge('bk-13', '13');
    await recharge('bk-17', '17');
    await recharge('bk-10', '10');
    await recharge('bk-rev', '12');
    await sim.reverse('bk-rev', { callback: false });
    const books = await json<{ count: number; charged: number; orders: BookEntry[] }>(base, '/_sim/orders');
    expect(books.status).toBe(200);
    expect(books.body).toMatchObject({ count: 4, charged: 1 });
    expect(
      books.body.orders.map((o) => [o.orderid, o.amount, o.status, o.charged, o.reversed, o.submissions]),
    ).toEqual([
      ['bk-10', '10', 'success', true, false, 2],
      ['bk-13', '13', 'failed', false, false, 1],
      ['bk-17', '17', 'pending', false, false, 1],
      ['bk-rev', '12', 'failed', false, true, 1],
    ]);
    expect(sim.books()).toEqual(books.body.orders);
    sim.configure({ settleAfterMs: 300 });
  });
});

describe('callback knobs', () => {
  it('default to one copy, sequential, and are validated', async () => {
    const fresh = createSimulator();
    expect(fresh.config()).toMatchObject({
      callbackCopies: 1,
      callbackConcurrent: false,
      answerCallback: 'off',
    });
    await fresh.close();
    expect(() => createSimulator({ callbackCopies: 0 })).toThrow(/callbackCopies/);
    expect(() => createSimulator({ callbackCopies: 21 })).toThrow(/callbackCopies/);
    for (const bad of [
      { callbackCopies: 1.5 },
      { callbackCopies: '3' },
      { callbackConcurrent: 'yes' },
      { answerCallback: 'sometimes' },
    ]) {
      expect((await json(base, '/_sim/config', postJson(bad))).status, JSON.stringify(bad)).toBe(400);
    }
    const ok = await json(base, '/_sim/config', postJson({ callbackCopies: 20, callbackConcurrent: true }));
    expect(ok).toMatchObject({ status: 200, body: { callbackCopies: 20, callbackConcurrent: true } });
  });
});

describe('logs and shutdown', () => {
  it('never logs the callback URL, even when deliveries fail', async () => {
    const entries: unknown[] = [];
    const logger = {
      info: (fields: Record<string, unknown>, message: string) => entries.push({ fields, message }),
      warn: (fields: Record<string, unknown>, message: string) => entries.push({ fields, message }),
    };
    const dead = 'http://127.0.0.1:9/callbacks/a1topup/secret-token-dead';
    const quiet = createSimulator({ username: USER, password: PASS, seed: 1, callbackUrl: dead, logger });
    const { url } = await quiet.listen();
    try {
      quiet.configure({ callbackCopies: 2 });
      await call(url, '/recharge/api', rechargeParams('l-1', '10'), 'POST');
      const batch = await quiet.sendCallbacks({ orderid: 'l-1' });
      expect(batch.deliveries[0]?.delivered).toBe(false);
      receiver.behave({ statusCode: 503 });
      await quiet.sendCallbacks({ orderid: 'l-1', url: receiver.url });
      await quiet.reverse('l-1');
      const logged = JSON.stringify(entries);
      expect(
        entries.some((e) => (e as { message: string }).message === 'simulator callback not delivered'),
      ).toBe(true);
      expect(logged).not.toContain('secret-token-dead');
      expect(logged).not.toContain('tok123');
      expect(JSON.stringify(quiet.order('l-1')?.callbacks)).not.toContain('secret-token-dead');
    } finally {
      await quiet.close();
    }
  });

  it('close cuts a long gap short and does not send the rest', async () => {
    const closing = createSimulator({ username: USER, password: PASS, seed: 1, callbackUrl: other.url });
    const { url } = await closing.listen();
    await call(url, '/recharge/api', rechargeParams('c-1', '10'), 'POST');
    const batch = closing.sendCallbacks({
      orderid: 'c-1',
      sequence: [{ status: 'Success' }, { status: 'Failure' }],
      gapMs: 60_000,
    });
    await other.answered(1);
    const started = Date.now();
    await closing.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    const done = await batch;
    expect(done.deliveries.map((d: CallbackRecord) => d.status)).toEqual(['Success']);
    expect(other.hits).toHaveLength(1);
  });
});
