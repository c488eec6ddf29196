import {
  IllegalTransitionError,
  nextStates,
  ORDER_STATES,
  type OrderKey,
  type OrderState,
  ValidationError,
} from '@rechargeflow/domain';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LedgerStore } from '../../src/ledger-store.ts';
import {
  MAX_ATTEMPT_BODY_CHARS,
  MAX_ATTEMPTS_KEPT,
  MAX_WEBHOOK_URL_BYTES,
} from '../../src/webhooks/webhook-record.ts';
import {
  OUTBOX_STATES,
  type OutboxEntry,
  WEBHOOK_EVENT_TYPES,
  type WebhookDelivery,
  type WebhookEndpoint,
} from '../../src/webhooks/webhook-store.ts';
import { applied, at, type LiveFixture, move, newOrder, orderIn, ROUTE } from './fixtures.ts';

const isFinal = (state: OrderState): boolean => (OUTBOX_STATES as readonly string[]).includes(state);

/** The outbox entries of one order, oldest first (the outbox holds every client's). */
async function outboxOf(store: LedgerStore, key: OrderKey): Promise<OutboxEntry[]> {
  return (await store.readOutbox(1_000)).filter(
    (entry) => entry.clientId === key.clientId && entry.orderId === key.orderId,
  );
}

/** What an entry must be, store-made fields left open (checked apart). */
function entryFor(key: OrderKey, version: number, state: OrderState, batch: Partial<OutboxEntry> = {}) {
  return {
    id: expect.any(String),
    clientId: key.clientId,
    orderId: key.orderId,
    version,
    state,
    ...batch,
    at: expect.any(String),
  };
}

function endpoint(id: string, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id,
    clientId: 'shop-1',
    url: `https://shop.example/hooks/${id}`,
    events: [...WEBHOOK_EVENT_TYPES],
    createdAt: at(0),
    ...overrides,
  };
}

function delivery(id: string, overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    id,
    endpointId: 'we_1',
    clientId: 'shop-1',
    eventId: `evt_${id}`,
    type: 'order.succeeded',
    subject: { kind: 'order', orderId: 'o-1', version: 3 },
    createdAt: at(0),
    state: 'pending',
    attempts: [],
    updatedAt: at(0),
    ...overrides,
  };
}

/** The webhooks slice of the contract: WebhookStore, and the outbox the order transitions write. */
export function webhookContract(live: LiveFixture): void {
  describe('webhooks', () => {
    let store: LedgerStore;

    beforeEach(() => {
      store = live.store;
    });

    describe('outbox', () => {
      it('gets exactly one entry from each transition that enters a final state, none from any other', async () => {
        let entered = 0;
        for (const from of ORDER_STATES) {
          for (const to of [...nextStates(from), from]) {
            // pending -> processing is a failover (tested below); it enters no final state.
            if (from === 'pending' && to === 'processing') continue;
            const key = { clientId: 'shop-1', orderId: `${from}-to-${to}` };
            await orderIn(store, key, from);
            const before = await outboxOf(store, key);
            const order = await applied(store, key, move(from, to, 100));
            const after = await outboxOf(store, key);
            if (to !== from && isFinal(to)) {
              entered += 1;
              expect(after, `${from} -> ${to}`).toStrictEqual([...before, entryFor(key, order.version, to)]);
            } else {
              expect(after, `${from} -> ${to}`).toStrictEqual(before);
            }
          }
        }
        // processing and pending -> 3 final ones each, manual_review and failed -> 2, success -> reversed.
        expect(entered).toBe(11);
      });

      it('records the version after the write, the store clock and nothing else of the order', async () => {
        const key = { clientId: 'shop-1', orderId: 'walk' };
        const order = await orderIn(store, key, 'reversed', 0, { route: ROUTE });
        const clock = (await store.clock()).getTime();
        const entries = await outboxOf(store, key);
        // queued -> processing -> success -> reversed: success at version 3, reversed at 4.
        expect(entries).toStrictEqual([entryFor(key, 3, 'success'), entryFor(key, 4, 'reversed')]);
        expect(order.version).toBe(4);
        for (const entry of entries) {
          expect(Object.keys(entry).sort()).toEqual(['at', 'clientId', 'id', 'orderId', 'state', 'version']);
          expect(Math.abs(Date.parse(entry.at) - clock)).toBeLessThan(5_000);
          expect(new Date(Date.parse(entry.at)).toISOString()).toBe(entry.at);
          // Never the phone number, nor anything else of the request.
          expect(JSON.stringify(entry)).not.toContain(order.request.number);
        }
        expect(new Set(entries.map((entry) => entry.id)).size).toBe(2);
      });

      it("carries the order's batch and every batch it is a member of", async () => {
        const key = { clientId: 'shop-1', orderId: 'in-batches' };
        await store.createOrders([{ ...newOrder(key.clientId, key.orderId), batchId: 'b 1:x' }]);
        await store.linkOrders('b_2', [key]);
        await applied(store, key, move('queued', 'processing', 1));
        const order = await applied(store, key, move('processing', 'failed', 2));
        expect(await outboxOf(store, key)).toStrictEqual([
          entryFor(key, order.version, 'failed', { batchId: 'b 1:x', batchIds: ['b 1:x', 'b_2'] }),
        ]);
      });

      it('gets nothing from a refused, conflicting, illegal or missing transition, nor from a note', async () => {
        const key = { clientId: 'shop-1', orderId: 'refused' };
        const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        const attempt = (command: ReturnType<typeof move>) => store.transition(key, command);
        expect((await attempt(move('pending', 'success', 10))).applied).toBe(false);
        expect((await attempt(move('processing', 'success', 10, { inFlight: true }))).applied).toBe(false);
        const stale = {
          ...move('processing', 'failed', 10),
          expect: { state: 'processing' as const, version: 1 },
        };
        expect((await attempt(stale)).applied).toBe(false);
        const otherAttempt = {
          ...move('processing', 'failed', 10),
          expect: { state: 'processing' as const, providerOrderId: 'RF-left' },
        };
        expect((await attempt(otherAttempt)).applied).toBe(false);
        await expect(attempt(move('queued', 'success', 10))).rejects.toBeInstanceOf(IllegalTransitionError);
        await expect(
          store.transition({ clientId: 'shop-1', orderId: 'nobody' }, move('processing', 'success', 10)),
        ).resolves.toStrictEqual({ applied: false, reason: 'not_found' });
        await store.appendHistory(key, { at: at(11), source: 'callback', note: 'a late fact' });
        expect(await outboxOf(store, key)).toStrictEqual([]);

        // A booking refused by the store (an attempt the order does not hold) writes nothing either.
        await applied(store, key, move('processing', 'manual_review', 12));
        await expect(
          attempt(
            move('manual_review', 'success', 13, {
              source: 'operator',
              patch: { bookAttempt: { provider: 'telgoo5', providerOrderId: 'RF-not-ours' } },
            }),
          ),
        ).rejects.toThrow(RangeError);
        expect(await outboxOf(store, key)).toStrictEqual([entryFor(key, order.version + 2, 'manual_review')]);
      });

      it('gets one entry from 10 concurrent copies of one transition', async () => {
        const key = { clientId: 'shop-1', orderId: 'race' };
        await orderIn(store, key, 'processing');
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.transition(key, move('processing', 'success', 20))),
        );
        expect(results.filter((result) => result.applied)).toHaveLength(1);
        expect(await outboxOf(store, key)).toStrictEqual([entryFor(key, 3, 'success')]);
      });

      it('hands out the oldest entries first until they are acknowledged', async () => {
        const keys = ['a', 'b', 'c'].map((orderId) => ({ clientId: 'shop-1', orderId }));
        for (const key of keys) await orderIn(store, key, 'success');
        const first = await store.readOutbox(2);
        expect(first.map((entry) => entry.orderId)).toEqual(['a', 'b']);
        // Reading takes nothing.
        expect(await store.readOutbox(2)).toStrictEqual(first);
        await store.ackOutbox([first[0]?.id ?? '']);
        const rest = await store.readOutbox(10);
        expect(rest.map((entry) => entry.orderId)).toEqual(['b', 'c']);
        expect(rest[0]).toStrictEqual(first[1]);
        // Idempotent: an id acknowledged before is ignored.
        await store.ackOutbox([...rest.map((entry) => entry.id), first[0]?.id ?? '']);
        await store.ackOutbox([]);
        expect(await store.readOutbox(10)).toStrictEqual([]);

        // A later transition of an acknowledged order is a new entry.
        const reversed = await applied(store, keys[0]!, move('success', 'reversed', 30));
        expect(await store.readOutbox(10)).toStrictEqual([entryFor(keys[0]!, reversed.version, 'reversed')]);

        await expect(store.ackOutbox(['not an id'])).rejects.toThrow(RangeError);
        await expect(store.readOutbox(0)).rejects.toThrow(RangeError);
        await expect(store.readOutbox(1_001)).rejects.toThrow(RangeError);
      });
    });

    describe('endpoints', () => {
      it('creates, lists oldest first, reads only its own client, and deletes', async () => {
        const e1 = endpoint('we_1', { events: ['order.failed'] });
        const e2 = endpoint('we_2', { createdAt: at(5), url: 'http://127.0.0.1:9000/hook?x=1' });
        expect(await store.createEndpoint(e2, 10)).toStrictEqual(e2);
        expect(await store.createEndpoint(e1, 10)).toStrictEqual(e1);
        const other = endpoint('we_3', { clientId: 'shop-2' });
        expect(await store.createEndpoint(other, 10)).toStrictEqual(other);

        expect(await store.listEndpoints('shop-1')).toStrictEqual([e1, e2]);
        expect(await store.listEndpoints('shop-2')).toStrictEqual([other]);
        expect(await store.listEndpoints('shop-9')).toStrictEqual([]);
        expect(await store.getEndpoint('shop-1', 'we_2')).toStrictEqual(e2);
        expect(await store.getEndpoint('shop-2', 'we_2')).toBeNull();
        expect(await store.getEndpoint('shop-1', 'we_9')).toBeNull();

        expect(await store.deleteEndpoint('shop-2', 'we_1')).toBe(false);
        expect(await store.deleteEndpoint('shop-1', 'we_1')).toBe(true);
        expect(await store.deleteEndpoint('shop-1', 'we_1')).toBe(false);
        expect(await store.listEndpoints('shop-1')).toStrictEqual([e2]);
        expect(await store.getEndpoint('shop-1', 'we_1')).toBeNull();
      });

      it('holds at most the cap per client, also under 10 concurrent creations', async () => {
        for (const id of ['we_1', 'we_2', 'we_3'])
          expect(await store.createEndpoint(endpoint(id), 3)).not.toBeNull();
        expect(await store.createEndpoint(endpoint('we_4'), 3)).toBeNull();
        expect(await store.getEndpoint('shop-1', 'we_4')).toBeNull();
        // Another client has its own count; a delete makes room.
        expect(await store.createEndpoint(endpoint('we_5', { clientId: 'shop-2' }), 3)).not.toBeNull();
        await store.deleteEndpoint('shop-1', 'we_2');
        expect(await store.createEndpoint(endpoint('we_4'), 3)).not.toBeNull();
        expect((await store.listEndpoints('shop-1')).map((each) => each.id)).toEqual([
          'we_1',
          'we_3',
          'we_4',
        ]);

        const created = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.createEndpoint(endpoint(`race_${i}`, { clientId: 'shop-3' }), 4),
          ),
        );
        expect(created.filter((each) => each !== null)).toHaveLength(4);
        expect(await store.listEndpoints('shop-3')).toHaveLength(4);
      });

      it('refuses a malformed endpoint and an id the client has, writing nothing', async () => {
        await store.createEndpoint(endpoint('we_1'), 10);
        const refused: Partial<WebhookEndpoint>[] = [
          { url: `https://shop.example/${'x'.repeat(MAX_WEBHOOK_URL_BYTES)}` },
          { url: 'ftp://shop.example/hook' },
          { url: 'https://user:secret@shop.example/hook' },
          { url: 'not a url' },
          { events: [] },
          { events: ['order.created' as 'order.failed'] },
          { events: ['order.failed', 'order.failed'] },
          { createdAt: 'yesterday' },
          { clientId: '' },
        ];
        for (const overrides of refused) {
          await expect(store.createEndpoint(endpoint('we_2', overrides), 10)).rejects.toThrow(RangeError);
        }
        await expect(
          store.createEndpoint(endpoint('we_1', { url: 'https://other.example/' }), 10),
        ).rejects.toThrow(RangeError);
        await expect(store.createEndpoint(endpoint('we_2'), 0)).rejects.toThrow(RangeError);
        expect(await store.listEndpoints('shop-1')).toStrictEqual([endpoint('we_1')]);
        // Exactly at the limit is fine.
        const longest = `https://shop.example/${'x'.repeat(MAX_WEBHOOK_URL_BYTES - 'https://shop.example/'.length)}`;
        expect(await store.createEndpoint(endpoint('we_2', { url: longest }), 10)).not.toBeNull();
      });
    });

    describe('deliveries', () => {
      it('stores a delivery once by id; a repeat, even a concurrent one, answers the stored one', async () => {
        const first = delivery('wd_1');
        expect(await store.createDelivery(first)).toStrictEqual({ delivery: first, isNew: true });
        expect(await store.getDelivery('wd_1')).toStrictEqual(first);
        const again = await store.createDelivery({ ...first, state: 'failed', eventId: 'evt_other' });
        expect(again).toStrictEqual({ delivery: first, isNew: false });
        expect(await store.getDelivery('wd_1')).toStrictEqual(first);
        expect(await store.getDelivery('wd_none')).toBeNull();

        const batch = delivery('wd_batch', {
          type: 'batch.completed',
          subject: { kind: 'batch', batchId: 'b_1' },
          attempts: [{ at: at(1), status: 500, durationMs: 30, body: 'busy' }],
          state: 'failed',
          updatedAt: at(1),
        });
        const results = await Promise.all(Array.from({ length: 5 }, () => store.createDelivery(batch)));
        expect(results.filter((result) => result.isNew)).toHaveLength(1);
        for (const result of results) expect(result.delivery).toStrictEqual(batch);
      });

      it('refuses a malformed delivery or attempt, writing nothing', async () => {
        const refused: Partial<WebhookDelivery>[] = [
          { id: '' },
          { type: 'order.created' as 'order.failed' },
          { state: 'sent' as 'pending' },
          { createdAt: 'now' },
          { subject: { kind: 'order', orderId: 'o-1', version: 0 } },
          { subject: { kind: 'customer' } as unknown as WebhookDelivery['subject'] },
          { attempts: [{ at: at(1), durationMs: -1 }] },
        ];
        for (const overrides of refused) {
          await expect(store.createDelivery(delivery('wd_bad', overrides))).rejects.toThrow(RangeError);
        }
        expect(await store.getDelivery('wd_bad')).toBeNull();

        await store.createDelivery(delivery('wd_1'));
        const bad = [
          { at: at(1), durationMs: 5, body: 'x'.repeat(MAX_ATTEMPT_BODY_CHARS + 1) },
          { at: at(1), durationMs: 5, status: 99 },
          { at: at(1), durationMs: 5, error: 'e'.repeat(10_000) },
          { at: 'later', durationMs: 5 },
        ];
        for (const attempt of bad) {
          await expect(store.recordAttempt('wd_1', attempt, 'pending')).rejects.toThrow(RangeError);
        }
        await expect(
          store.recordAttempt('wd_1', { at: at(1), durationMs: 5 }, 'lost' as 'failed'),
        ).rejects.toThrow(RangeError);
        expect(await store.getDelivery('wd_1')).toStrictEqual(delivery('wd_1'));
      });

      it(`records attempts, keeping the last ${MAX_ATTEMPTS_KEPT}, with the state and update time`, async () => {
        await store.createDelivery(delivery('wd_1'));
        const attempt = (i: number) => ({ at: at(i), status: 500, durationMs: i, body: `answer ${i}` });
        const first = await store.recordAttempt(
          'wd_1',
          { at: at(1), error: 'timed out after 10 s', durationMs: 10_000 },
          'pending',
        );
        expect(first).toStrictEqual({
          ...delivery('wd_1'),
          attempts: [{ at: at(1), error: 'timed out after 10 s', durationMs: 10_000 }],
          updatedAt: at(1),
        });
        for (let i = 2; i <= 55; i += 1) await store.recordAttempt('wd_1', attempt(i), 'pending');
        const last = await store.recordAttempt(
          'wd_1',
          { at: at(56), status: 204, durationMs: 3 },
          'delivered',
        );
        expect(last?.attempts).toHaveLength(MAX_ATTEMPTS_KEPT);
        expect(last?.attempts[0]).toStrictEqual(attempt(7));
        expect(last?.attempts.at(-1)).toStrictEqual({ at: at(56), status: 204, durationMs: 3 });
        expect(last?.state).toBe('delivered');
        expect(last?.updatedAt).toBe(at(56));
        expect(await store.getDelivery('wd_1')).toStrictEqual(last);
        expect(await store.recordAttempt('wd_none', attempt(1), 'failed')).toBeNull();
        expect(await store.getDelivery('wd_none')).toBeNull();
      });

      it('reopens a failed or delivered delivery as pending, on the store clock', async () => {
        await store.createDelivery(delivery('wd_1'));
        const failed = await store.recordAttempt('wd_1', { at: at(1), status: 410, durationMs: 4 }, 'failed');
        const reopened = await store.reopenDelivery('wd_1');
        const clock = (await store.clock()).getTime();
        expect(reopened).toStrictEqual({ ...failed, state: 'pending', updatedAt: expect.any(String) });
        expect(Math.abs(Date.parse(reopened?.updatedAt ?? '') - clock)).toBeLessThan(5_000);
        expect(await store.getDelivery('wd_1')).toStrictEqual(reopened);
        // A pending one stays as it is.
        expect(await store.reopenDelivery('wd_1')).toStrictEqual(reopened);
        await store.recordAttempt('wd_1', { at: at(2), status: 200, durationMs: 4 }, 'delivered');
        expect((await store.reopenDelivery('wd_1'))?.state).toBe('pending');
        expect(await store.reopenDelivery('wd_none')).toBeNull();
      });

      it('records an attempt only on a pending delivery: a stale run never turns an ended one back', async () => {
        await store.createDelivery(delivery('wd_1'));
        const delivered = await store.recordAttempt(
          'wd_1',
          { at: at(2), status: 204, durationMs: 3 },
          'delivered',
        );
        expect(delivered?.state).toBe('delivered');
        // A run that lost its job's lock ends later: its attempt and state are not written.
        for (const state of ['pending', 'failed'] as const) {
          expect(
            await store.recordAttempt('wd_1', { at: at(3), status: 500, durationMs: 9 }, state),
          ).toStrictEqual(delivered);
        }
        expect(
          await store.recordAttempt('wd_1', { at: at(4), status: 200, durationMs: 9 }, 'delivered'),
        ).toStrictEqual(delivered);
        expect(await store.getDelivery('wd_1')).toStrictEqual(delivered);

        // Given up by a stale run: no pending again, but a 2xx that came after all is recorded.
        await store.createDelivery(delivery('wd_2'));
        const failed = await store.recordAttempt('wd_2', { at: at(2), status: 500, durationMs: 3 }, 'failed');
        expect(
          await store.recordAttempt('wd_2', { at: at(3), status: 500, durationMs: 3 }, 'pending'),
        ).toStrictEqual(failed);
        const late = await store.recordAttempt(
          'wd_2',
          { at: at(4), status: 202, durationMs: 3 },
          'delivered',
        );
        expect(late).toStrictEqual({
          ...delivery('wd_2'),
          state: 'delivered',
          attempts: [
            { at: at(2), status: 500, durationMs: 3 },
            { at: at(4), status: 202, durationMs: 3 },
          ],
          updatedAt: at(4),
        });
        // Reopened (a manual retry), it takes attempts again.
        await store.reopenDelivery('wd_2');
        expect(
          (await store.recordAttempt('wd_2', { at: at(5), status: 500, durationMs: 3 }, 'pending'))?.attempts,
        ).toHaveLength(3);
      });

      it('scans the pending deliveries last changed before a time, oldest first, a page at a time', async () => {
        const scanAll = async (before: string, limit: number) => {
          const pages: string[][] = [];
          let cursor: string | undefined;
          do {
            const page = await store.scanPendingDeliveries(before, limit, cursor);
            pages.push([...page.ids]);
            cursor = page.nextCursor;
          } while (cursor !== undefined && pages.length < 20);
          return pages;
        };
        // Created in this order, but changed at these times (two at the same millisecond).
        for (const [id, second] of [
          ['wd_c', 30],
          ['wd_a', 10],
          ['wd_b2', 20],
          ['wd_b1', 20],
          ['wd_late', 90],
        ] as const) {
          await store.createDelivery(delivery(id, { createdAt: at(1), updatedAt: at(second) }));
        }
        // Not pending: stored ended, delivered, given up.
        await store.createDelivery(delivery('wd_done', { state: 'delivered', updatedAt: at(5) }));
        await store.createDelivery(delivery('wd_ok'));
        await store.recordAttempt('wd_ok', { at: at(6), status: 200, durationMs: 1 }, 'delivered');
        await store.createDelivery(delivery('wd_gone'));
        await store.recordAttempt('wd_gone', { at: at(7), status: 500, durationMs: 1 }, 'failed');

        expect(await scanAll(at(60), 100)).toEqual([['wd_a', 'wd_b1', 'wd_b2', 'wd_c']]);
        // Pages of 2, then of 1 (a tie split across pages), each starting strictly after the last.
        expect(await scanAll(at(60), 2)).toEqual([
          ['wd_a', 'wd_b1'],
          ['wd_b2', 'wd_c'],
        ]);
        expect((await scanAll(at(60), 1)).flat()).toEqual(['wd_a', 'wd_b1', 'wd_b2', 'wd_c']);
        // Strictly before: one changed at that very time is not yet due.
        expect(await scanAll(at(20), 100)).toEqual([['wd_a']]);

        // An attempt moves it to its time; one that ends it takes it out; a reopened one comes in at
        // the store's clock (later than every time here).
        await store.recordAttempt('wd_a', { at: at(40), status: 500, durationMs: 1 }, 'pending');
        await store.recordAttempt('wd_c', { at: at(41), status: 204, durationMs: 1 }, 'delivered');
        await store.reopenDelivery('wd_gone');
        expect((await scanAll(at(60), 100)).flat()).toEqual(['wd_b1', 'wd_b2', 'wd_a']);
        const clock = (await store.clock()).getTime();
        expect((await scanAll(new Date(clock + 60_000).toISOString(), 100)).flat()).toEqual([
          'wd_b1',
          'wd_b2',
          'wd_a',
          'wd_late',
          'wd_gone',
        ]);

        await expect(store.scanPendingDeliveries(at(60), 0)).rejects.toThrow(RangeError);
        await expect(store.scanPendingDeliveries(at(60), 1_001)).rejects.toThrow(RangeError);
        await expect(store.scanPendingDeliveries('soon', 10)).rejects.toThrow(RangeError);
        await expect(store.scanPendingDeliveries(at(60), 10, 'not-ours')).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it("pages an endpoint's deliveries newest first, and they outlive the endpoint", async () => {
        await store.createEndpoint(endpoint('we_1'), 10);
        for (let i = 1; i <= 7; i += 1) await store.createDelivery(delivery(`wd_${i}`, { createdAt: at(i) }));
        // Same creation time: the id decides, the same way every time.
        await store.createDelivery(delivery('wd_7b', { createdAt: at(7) }));
        await store.createDelivery(delivery('wd_x', { endpointId: 'we_2', createdAt: at(9) }));
        const list = (after?: string, limit = 3) => store.listDeliveries('we_1', { limit, after });
        const ids = (page: { deliveries: readonly WebhookDelivery[] }) =>
          page.deliveries.map((each) => each.id);

        const page1 = await list();
        expect(ids(page1)).toEqual(['wd_7b', 'wd_7', 'wd_6']);
        expect(page1.next).toBe('wd_6');
        expect(page1.deliveries[0]).toStrictEqual(delivery('wd_7b', { createdAt: at(7) }));
        const page2 = await list(page1.next);
        expect(ids(page2)).toEqual(['wd_5', 'wd_4', 'wd_3']);
        const page3 = await list(page2.next);
        expect(ids(page3)).toEqual(['wd_2', 'wd_1']);
        expect(page3).not.toHaveProperty('next');
        // Exactly a page left: no next.
        const exact = await list('wd_4');
        expect(ids(exact)).toEqual(['wd_3', 'wd_2', 'wd_1']);
        expect(exact).not.toHaveProperty('next');
        expect(await store.listDeliveries('we_2', { limit: 100 })).toStrictEqual({
          deliveries: [delivery('wd_x', { endpointId: 'we_2', createdAt: at(9) })],
        });
        expect(await store.listDeliveries('we_9', { limit: 10 })).toStrictEqual({ deliveries: [] });

        await expect(list('wd_x')).rejects.toBeInstanceOf(ValidationError);
        await expect(list('wd_none')).rejects.toBeInstanceOf(ValidationError);
        await expect(list(undefined, 0)).rejects.toBeInstanceOf(ValidationError);
        await expect(list(undefined, 101)).rejects.toBeInstanceOf(ValidationError);

        await store.deleteEndpoint('shop-1', 'we_1');
        expect(ids(await list(undefined, 100))).toHaveLength(8);
        expect(await store.getDelivery('wd_1')).toStrictEqual(delivery('wd_1', { createdAt: at(1) }));
      });
    });
  });
}
