import {
  IllegalTransitionError,
  nextStates,
  ORDER_STATES,
  type Order,
  type OrderState,
  paise,
  providerOrderId,
  type TransitionSource,
} from '@rechargeflow/domain';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { OrderStore, TransitionCommand } from '../../../src/orders/order-store.ts';
import {
  applied,
  at,
  created,
  failover,
  ids,
  type LiveFixture,
  move,
  newOrder,
  orderIn,
  ROUTE,
} from '../fixtures.ts';

/** Transitions, appended facts, versions, bookings, reversals and the history they leave. */
export function orderTransitionContract(live: LiveFixture): void {
  let store: OrderStore;

  beforeEach(() => {
    store = live.store;
  });

  it('applies every legal transition, bumping version and appending from/to/source/providerStatus', async () => {
    let pairs = 0;
    for (const from of ORDER_STATES) {
      for (const to of nextStates(from)) {
        // A failover, tested with its switch in 'attempt-pinned writes'.
        if (from === 'pending' && to === 'processing') continue;
        const key = { clientId: 'shop-1', orderId: `${from}-to-${to}` };
        const before = await orderIn(store, key, from);
        const source: TransitionSource = to === 'reversed' ? 'callback' : 'poller';
        const result = await store.transition(
          key,
          move(from, to, 100, { source, providerStatus: `RAW ${to}`, note: `${from} then ${to}` }),
        );

        expect(result.applied, `${from} -> ${to}`).toBe(true);
        if (!result.applied) continue;
        expect(result.order.state).toBe(to);
        expect(result.order.version).toBe(before.version + 1);
        expect(result.order.updatedAt).toBe(at(100));
        expect(result.order.createdAt).toBe(before.createdAt);
        expect(result.order.history).toHaveLength(before.history.length + 1);
        expect(result.order.history.slice(0, -1)).toStrictEqual(before.history);
        expect(result.order.history.at(-1)).toStrictEqual({
          at: at(100),
          from,
          to,
          source,
          note: `${from} then ${to}`,
          providerStatus: `RAW ${to}`,
        });
        expect(await store.getOrder(key)).toStrictEqual(result.order);
        pairs += 1;
      }
    }
    expect(pairs).toBe(13);
  });

  it('answers the same order whether the caller passes the order it read, a stale one, or none', async () => {
    const key = { clientId: 'shop-1', orderId: 'known-order' };
    const start = await orderIn(store, key, 'queued');
    const withKnown = await store.transition(key, {
      ...move('queued', 'processing', 10, { note: 'sending' }),
      known: start,
    });
    expect(withKnown.applied).toBe(true);
    if (!withKnown.applied) return;
    expect(await store.getOrder(key)).toStrictEqual(withKnown.order);
    // Another writer appends meanwhile: the hint is one entry short, the answer still exact.
    await store.appendHistory(key, { at: at(11), source: 'callback', note: 'a late fact' });
    const stale = await store.transition(key, {
      ...move('processing', 'pending', 12, { note: 'ambiguous' }),
      known: withKnown.order,
    });
    expect(stale.applied).toBe(true);
    if (!stale.applied) return;
    expect(stale.order.history.map((entry) => entry.note)).toEqual([
      ...start.history.map((entry) => entry.note),
      'sending',
      'a late fact',
      'ambiguous',
    ]);
    expect(await store.getOrder(key)).toStrictEqual(stale.order);
    // A hint that is another order is never trusted.
    const other = await orderIn(store, { clientId: 'shop-1', orderId: 'known-other' }, 'pending');
    const wrong = await store.transition(key, {
      ...move('pending', 'success', 13, { note: 'settled' }),
      known: { ...other, history: stale.order.history },
    });
    expect(wrong.applied && wrong.order).toStrictEqual(await store.getOrder(key));
  });

  it('answers exactly what a read gives, over random writes, checks and facts, whatever order the caller holds', async () => {
    type Step =
      | { readonly kind: 'move'; readonly pick: number; readonly patch: PatchPick; readonly hint: Hint }
      | { readonly kind: 'fact' }
      | { readonly kind: 'check' };
    type Hint = 'last' | 'older' | 'none';
    interface PatchPick {
      readonly inFlight?: boolean;
      readonly providerTxId?: string;
      readonly providerRef?: string;
      readonly providerStatus?: string;
      readonly incrementAttempts?: boolean;
      readonly checkAfterMs?: number;
      readonly failover?: boolean;
      readonly book?: boolean;
    }
    const text = fc.stringMatching(/^[A-Za-z0-9 ]{1,12}$/);
    const patchPick: fc.Arbitrary<PatchPick> = fc.record(
      {
        inFlight: fc.boolean(),
        providerTxId: text,
        providerRef: text,
        providerStatus: text,
        incrementAttempts: fc.boolean(),
        checkAfterMs: fc.constantFrom(0, 60_000),
        failover: fc.boolean(),
        book: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('move' as const),
          pick: fc.nat(),
          patch: patchPick,
          hint: fc.constantFrom<Hint>('last', 'last', 'older', 'none'),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'fact' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'check' as const }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        run += 1;
        const key = { clientId: 'shop-1', orderId: `walk-${run}` };
        let seconds = 100;
        const answers: Order[] = [
          await created(store, { ...newOrder(key.clientId, key.orderId), route: ROUTE }),
        ];
        for (const each of steps) {
          seconds += 1;
          const now = await store.getOrder(key);
          if (now === null) throw new Error('order gone');
          if (each.kind === 'fact') {
            await store.appendHistory(key, { at: at(seconds), source: 'operator', note: 'looked' });
            continue;
          }
          if (each.kind === 'check') {
            // Changes statusChecks and nextCheckAt without a new version (only pending, due ones).
            await store.claimDueChecks({ limit: 50, intervalsMs: [1, 60_000] });
            continue;
          }
          // Legal next states (a failover from pending needs a switch: its own tests).
          const legal = [now.state, ...nextStates(now.state)].filter(
            (to) => !(now.state === 'pending' && to === 'processing'),
          );
          // Processing and pending twice as likely: their schedules and checks are where fields
          // change without a new version.
          const targets = [...legal, ...legal.filter((to) => to === 'processing' || to === 'pending')];
          const to = targets[each.pick % targets.length] ?? now.state;
          const { checkAfterMs, failover, book, ...rest } = each.patch;
          // A failover to the route's next provider (processing -> processing, the call ended), and
          // an operator's booking on the first attempt (failed or manual_review -> success).
          const next = ROUTE.indexOf(now.provider as (typeof ROUTE)[number]) + 1;
          const switching =
            failover === true && now.state === 'processing' && to === 'processing' && next < ROUTE.length;
          const booking =
            book === true && to === 'success' && (now.state === 'failed' || now.state === 'manual_review');
          const patch = {
            ...rest,
            ...(to === 'pending' && checkAfterMs !== undefined ? { checkAfterMs } : {}),
            ...(to === 'reversed' ? { reversal: { amount: paise(500), at: at(seconds) } } : {}),
            ...(switching
              ? {
                  inFlight: false,
                  switchProvider: {
                    provider: ROUTE[next] ?? '',
                    providerOrderId: providerOrderId(key, next + 1),
                  },
                }
              : {}),
            ...(booking
              ? { bookAttempt: { provider: ROUTE[0], providerOrderId: providerOrderId(key, 1) } }
              : {}),
          };
          const known =
            each.hint === 'none'
              ? undefined
              : each.hint === 'last'
                ? answers.at(-1)
                : answers[Math.max(0, answers.length - 3)];
          const result = await store.transition(key, {
            expect: switching ? { state: now.state, inFlight: now.inFlight } : { state: now.state },
            to,
            patch,
            entry: { at: at(seconds), source: 'worker', note: `step ${seconds}` },
            known,
          });
          expect(result.applied).toBe(true);
          if (!result.applied) return;
          expect(result.order).toStrictEqual(await store.getOrder(key));
          answers.push(result.order);
        }
      }),
      { numRuns: 200 },
    );
  });

  describe('appendHistory', () => {
    it('records a fact whatever the state, without changing state, updatedAt or the stale index', async () => {
      for (const state of ORDER_STATES) {
        const key = { clientId: 'shop-1', orderId: `fact-${state}` };
        const before = await orderIn(store, key, state);
        const appended = await store.appendHistory(key, {
          at: at(500),
          source: 'callback',
          note: `fact about an earlier attempt of a ${state} order`,
          providerStatus: 'Failure',
        });
        if (!appended.applied) throw new Error(`not appended: ${appended.reason}`);
        const after = appended.order;
        expect(after).toStrictEqual({
          ...before,
          version: before.version + 1,
          history: [
            ...before.history,
            {
              at: at(500),
              from: state,
              to: state,
              source: 'callback',
              note: `fact about an earlier attempt of a ${state} order`,
              providerStatus: 'Failure',
            },
          ],
        });
        expect(await store.getOrder(key)).toStrictEqual(after);
        expect(ids(await store.findStale(state, before.updatedAt, 1_000))).not.toContain(key.orderId);
        expect(ids(await store.findStale(state, at(1_000), 1_000))).toContain(key.orderId);
      }
      expect(
        await store.appendHistory({ clientId: 'shop-1', orderId: 'nobody' }, { at: at(1), source: 'poller' }),
      ).toStrictEqual({ applied: false, reason: 'not_found' });
      expect(await store.getOrder({ clientId: 'shop-1', orderId: 'nobody' })).toBeNull();
    });

    it('appends only while the order is in the expected state and attempt, if one is given', async () => {
      const key = { clientId: 'shop-1', orderId: 'fact-expect' };
      const order = await orderIn(store, key, 'manual_review', 0, { route: ROUTE });
      const note = { at: at(600), source: 'worker' as const, note: 'the answer arrived' };
      expect(await store.appendHistory(key, note, { state: 'failed' })).toStrictEqual({
        applied: false,
        reason: 'conflict',
        order,
      });
      expect(
        await store.appendHistory(key, note, { state: 'manual_review', providerOrderId: 'RF-another' }),
      ).toStrictEqual({ applied: false, reason: 'conflict', order });
      const ok = await store.appendHistory(key, note, {
        state: 'manual_review',
        providerOrderId: order.providerOrderId,
      });
      expect(ok.applied && ok.order.history.at(-1)).toStrictEqual({
        at: note.at,
        from: 'manual_review',
        to: 'manual_review',
        source: note.source,
        note: note.note,
      });
      expect(
        await store.appendHistory({ clientId: 'shop-1', orderId: 'nobody' }, note, { state: 'queued' }),
      ).toStrictEqual({ applied: false, reason: 'not_found' });
    });

    it('keeps every one of 20 concurrent facts', async () => {
      const key = { clientId: 'shop-1', orderId: 'many-facts' };
      const before = await orderIn(store, key, 'processing');
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.appendHistory(key, { at: at(100 + i), source: 'callback', note: `fact ${i}` }),
        ),
      );
      const after = await store.getOrder(key);
      expect(after?.version).toBe(before.version + 20);
      expect(
        after?.history
          .slice(before.history.length)
          .map((h) => h.note)
          .sort(),
      ).toEqual(Array.from({ length: 20 }, (_, i) => `fact ${i}`).sort());
    });
  });

  it('applies a write only at the expected version, when one is given', async () => {
    const key = { clientId: 'shop-1', orderId: 'versioned' };
    const order = await orderIn(store, key, 'processing');
    const command = (version: number): TransitionCommand => ({
      ...move('processing', 'pending', 50),
      expect: { state: 'processing', version },
    });
    expect(await store.transition(key, command(order.version + 1))).toStrictEqual({
      applied: false,
      reason: 'conflict',
      order,
    });
    expect((await store.transition(key, command(order.version))).applied).toBe(true);
    await expect(store.transition(key, command(0))).rejects.toThrow(RangeError);
  });

  it("books an order on an earlier attempt it holds (an operator's success), refusing any other", async () => {
    const key = { clientId: 'shop-1', orderId: 'booked' };
    const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
    await applied(store, key, failover(5, 'telgoo5', providerOrderId(key, 2)));
    const review = await applied(store, key, move('processing', 'manual_review', 6));
    const book = (provider: string, pid: string, from: OrderState = 'manual_review'): TransitionCommand => ({
      expect: { state: from, providerOrderId: review.providerOrderId },
      to: 'success',
      patch: { bookAttempt: { provider, providerOrderId: pid } },
      entry: { at: at(7), source: 'operator', actor: 'ops', note: 'charged at a1topup' },
    });
    await expect(store.transition(key, book('a1topup', providerOrderId(key, 3)))).rejects.toThrow(RangeError);
    const thief = await created(store, newOrder('shop-2', 'other', 1));
    await expect(store.transition(key, book('a1topup', thief.providerOrderId))).rejects.toThrow(RangeError);
    await expect(store.transition(key, book('nowhere', order.providerOrderId))).rejects.toThrow(RangeError);
    await expect(store.transition(key, book('a1topup', order.providerOrderId, 'pending'))).rejects.toThrow(
      RangeError,
    );
    expect(await store.getOrder(key)).toStrictEqual(review);
    const booked = await applied(store, key, book('a1topup', order.providerOrderId));
    expect(booked).toMatchObject({
      state: 'success',
      provider: 'a1topup',
      providerOrderId: order.providerOrderId,
    });
    expect(await store.getOrderByProviderOrderId(providerOrderId(key, 2))).toStrictEqual(booked);
    expect((await store.summarize(at(0), at(1))).map((each) => each.provider)).toEqual(['a1topup']);
  });

  it('refuses every illegal transition with IllegalTransitionError and changes nothing', async () => {
    let refused = 0;
    for (const from of ORDER_STATES) {
      const key = { clientId: 'shop-1', orderId: `in-${from}` };
      const before = await orderIn(store, key, from);
      for (const to of ORDER_STATES) {
        if (to === from || nextStates(from).includes(to)) continue;
        await expect(store.transition(key, move(from, to, 100)), `${from} -> ${to}`).rejects.toBeInstanceOf(
          IllegalTransitionError,
        );
        refused += 1;
      }
      expect(await store.getOrder(key)).toStrictEqual(before);
    }
    // 7 states x 6 other states, less the 14 legal pairs.
    expect(refused).toBe(28);
  });

  it('does not apply a transition whose expected state is not the stored one (conflict, nothing changed)', async () => {
    const key = { clientId: 'shop-1', orderId: 'cond' };
    const before = await orderIn(store, key, 'processing');

    const stale = await store.transition(key, move('queued', 'processing', 50));
    expect(stale).toStrictEqual({ applied: false, reason: 'conflict', order: before });
    const wrong = await store.transition(
      key,
      move('pending', 'success', 51, { patch: { providerTxId: 'TX1' } }),
    );
    expect(wrong).toStrictEqual({ applied: false, reason: 'conflict', order: before });

    expect(await store.getOrder(key)).toStrictEqual(before);
    expect((await store.listOrders('shop-1', { state: 'success', limit: 10 })).orders).toEqual([]);
  });

  it('answers not_found for a transition of an unknown order and creates nothing', async () => {
    const key = { clientId: 'shop-1', orderId: 'ghost' };
    expect(await store.transition(key, move('queued', 'processing', 1))).toStrictEqual({
      applied: false,
      reason: 'not_found',
    });
    expect(await store.getOrder(key)).toBeNull();
    expect((await store.listOrders('shop-1', { limit: 10 })).orders).toEqual([]);
  });

  it('applies a transition only when inFlight is as expected', async () => {
    const key = { clientId: 'shop-1', orderId: 'flight' };
    const before = await orderIn(store, key, 'processing');
    expect(before.inFlight).toBe(false);

    const notYet = await store.transition(key, move('processing', 'success', 10, { inFlight: true }));
    expect(notYet).toStrictEqual({ applied: false, reason: 'conflict', order: before });

    const send = move('processing', 'processing', 11, {
      inFlight: false,
      patch: { inFlight: true, incrementAttempts: true },
      note: 'sent to a1topup',
    });
    const sending = await applied(store, key, send);
    expect(sending.inFlight).toBe(true);

    // An interrupted job finds the call may have left: the same "start a call" must not apply again.
    const again = await store.transition(key, send);
    expect(again).toStrictEqual({ applied: false, reason: 'conflict', order: sending });

    const done = await applied(
      store,
      key,
      move('processing', 'success', 12, {
        inFlight: true,
        patch: { inFlight: false, providerTxId: 'TX42', providerRef: 'OP9', providerStatus: 'Success' },
        providerStatus: 'Success',
      }),
    );
    expect(done).toMatchObject({
      state: 'success',
      inFlight: false,
      attempts: 1,
      providerTxId: 'TX42',
      providerRef: 'OP9',
      providerStatus: 'Success',
    });
  });

  it('records a same-state event (processing -> processing, attempt + inFlight) without a state change', async () => {
    const key = { clientId: 'shop-1', orderId: 'event' };
    const before = await orderIn(store, key, 'processing');
    const after = await applied(
      store,
      key,
      move('processing', 'processing', 20, {
        patch: { incrementAttempts: true, inFlight: true },
        note: 'sent to a1topup',
      }),
    );
    expect(after.state).toBe('processing');
    expect(after.attempts).toBe(before.attempts + 1);
    expect(after.inFlight).toBe(true);
    expect(after.version).toBe(before.version + 1);
    expect(after.updatedAt).toBe(at(20));
    expect(after.history).toHaveLength(before.history.length + 1);
    expect(after.history.at(-1)).toStrictEqual({
      at: at(20),
      from: 'processing',
      to: 'processing',
      source: 'worker',
      note: 'sent to a1topup',
    });
    // Still listed under its state, exactly once.
    expect(ids((await store.listOrders('shop-1', { state: 'processing', limit: 10 })).orders)).toEqual([
      'event',
    ]);
    expect(ids(await store.findStale('processing', at(21), 10))).toEqual(['event']);
  });

  it('applies exactly one of 20 concurrent transitions from the same state', async () => {
    const key = { clientId: 'shop-1', orderId: 'contended' };
    await created(store, newOrder(key.clientId, key.orderId, 1));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.transition(key, move('queued', 'processing', 2, { note: `job ${i}` })),
      ),
    );
    const winners = results.filter((result) => result.applied);
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (!result.applied) {
        expect(result.reason).toBe('conflict');
        if (result.reason === 'conflict') expect(result.order.state).toBe('processing');
      }
    }
    const stored = await store.getOrder(key);
    expect(stored?.version).toBe(2);
    expect(stored?.history).toHaveLength(2);
    const winner = winners[0];
    if (!winner?.applied) throw new Error('no winner');
    expect(stored).toStrictEqual(winner.order);

    // The same for 20 workers racing to start the provider call (same-state event on inFlight).
    const starts = await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transition(
          key,
          move('processing', 'processing', 3, {
            inFlight: false,
            patch: { inFlight: true, incrementAttempts: true },
          }),
        ),
      ),
    );
    expect(starts.filter((result) => result.applied)).toHaveLength(1);
    const final = await store.getOrder(key);
    expect(final).toMatchObject({ state: 'processing', inFlight: true, attempts: 1, version: 3 });
    expect(final?.history).toHaveLength(3);
  });

  it('increments version on every change and keeps patch fields that later changes leave out', async () => {
    const key = { clientId: 'shop-1', orderId: 'versions' };
    const versions = [(await created(store, newOrder(key.clientId, key.orderId, 1))).version];
    let order = await applied(store, key, move('queued', 'processing', 2));
    versions.push(order.version);
    order = await applied(
      store,
      key,
      move('processing', 'pending', 3, { patch: { providerTxId: 'TX1', providerStatus: 'Pending' } }),
    );
    versions.push(order.version);
    order = await applied(
      store,
      key,
      move('pending', 'pending', 4, { source: 'poller', note: 'still pending' }),
    );
    versions.push(order.version);
    order = await applied(store, key, move('pending', 'success', 5, { patch: { providerRef: 'OP1' } }));
    versions.push(order.version);

    expect(versions).toEqual([1, 2, 3, 4, 5]);
    expect(order).toMatchObject({ providerTxId: 'TX1', providerStatus: 'Pending', providerRef: 'OP1' });
  });

  it('keeps the full history, in order, with every field', async () => {
    const key = { clientId: 'shop-1', orderId: 'story' };
    await created(store, newOrder(key.clientId, key.orderId, 0));
    await applied(store, key, move('queued', 'processing', 1, { note: 'picked up' }));
    await applied(
      store,
      key,
      move('processing', 'processing', 2, {
        note: 'sent to a1topup',
        patch: { incrementAttempts: true, inFlight: true },
      }),
    );
    await applied(
      store,
      key,
      move('processing', 'pending', 3, { note: 'timeout after sending', patch: { inFlight: false } }),
    );
    await applied(store, key, move('pending', 'pending', 4, { source: 'poller', providerStatus: 'Pending' }));
    await applied(
      store,
      key,
      move('pending', 'manual_review', 5, { source: 'poller', note: 'no answer for 2 days' }),
    );
    await applied(
      store,
      key,
      move('manual_review', 'success', 6, {
        source: 'operator',
        actor: 'asha',
        note: 'confirmed by phone',
      }),
    );
    await applied(
      store,
      key,
      move('success', 'reversed', 7, { source: 'callback', providerStatus: 'Reversal' }),
    );

    const order = await store.getOrder(key);
    expect(order?.version).toBe(8);
    expect(order?.history).toStrictEqual([
      { at: at(0), from: null, to: 'queued', source: 'api', note: 'order accepted' },
      { at: at(1), from: 'queued', to: 'processing', source: 'worker', note: 'picked up' },
      { at: at(2), from: 'processing', to: 'processing', source: 'worker', note: 'sent to a1topup' },
      { at: at(3), from: 'processing', to: 'pending', source: 'worker', note: 'timeout after sending' },
      { at: at(4), from: 'pending', to: 'pending', source: 'poller', providerStatus: 'Pending' },
      { at: at(5), from: 'pending', to: 'manual_review', source: 'poller', note: 'no answer for 2 days' },
      {
        at: at(6),
        from: 'manual_review',
        to: 'success',
        source: 'operator',
        note: 'confirmed by phone',
        actor: 'asha',
      },
      { at: at(7), from: 'success', to: 'reversed', source: 'callback', providerStatus: 'Reversal' },
    ]);
  });

  it('stores a reversal with success -> reversed and returns it', async () => {
    const key = { clientId: 'shop-1', orderId: 'disputed' };
    await orderIn(store, key, 'success');
    const reversal = { amount: paise(1000), at: at(50), providerRef: 'OP9', callbackId: 'c'.repeat(64) };
    const reversed = await applied(
      store,
      key,
      move('success', 'reversed', 50, { source: 'callback', patch: { reversal } }),
    );
    expect(reversed.reversal).toStrictEqual(reversal);
    expect(await store.getOrder(key)).toStrictEqual(reversed);

    const bare = { clientId: 'shop-1', orderId: 'disputed-bare' };
    await orderIn(store, bare, 'success');
    const plain = await applied(
      store,
      bare,
      move('success', 'reversed', 51, { patch: { reversal: { amount: paise(250), at: at(51) } } }),
    );
    expect(plain.reversal).toStrictEqual({ amount: 250, at: at(51) });

    const other = { clientId: 'shop-1', orderId: 'not-reversed' };
    await orderIn(store, other, 'processing');
    await expect(
      store.transition(other, move('processing', 'success', 52, { patch: { reversal } })),
    ).rejects.toThrow(RangeError);
  });
}
