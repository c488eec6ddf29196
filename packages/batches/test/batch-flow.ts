import {
  type OrderKey,
  ProviderNotEnabledError,
  providerOrderId,
  RechargeflowError,
  requestFingerprint,
  validateRechargeRequest,
} from '@rechargeflow/domain';
import type { BatchStore, NewOrder, OrderStore } from '@rechargeflow/ledger';
import { rechargeJobId } from '@rechargeflow/queue';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  batchView,
  importBatch,
  type RechargeJobSink,
  ReleaseWaitError,
  releaseBatch,
  storeUpload,
  UploadLimitError,
  type UploadLimits,
  writeResultsCsv,
} from '../src/index.ts';
import { EXISTING_CONFLICTS, EXISTING_SAME, HEADER, pieces, sampleCsv } from './fixtures.ts';

export type FlowLedger = BatchStore & Pick<OrderStore, 'getOrder'>;

export interface FlowFixture {
  readonly ledger: FlowLedger;
  readonly producer: RechargeJobSink;
  /** Recharge jobs waiting on a provider's queue. */
  jobCount(provider: string): Promise<number>;
  /** Takes up to `count` waiting jobs off a provider's queue, as a consumer would; their ids. */
  takeJobs(provider: string, count: number): Promise<string[]>;
  /** Moves a queued order on, as a worker would: to processing, then to `state` (with `note`). */
  settle(
    key: OrderKey,
    state: 'success' | 'failed' | 'pending',
    providerRef?: string,
    note?: string,
  ): Promise<void>;
  cleanup(): Promise<void>;
}

const CLIENT = 'shop-1';
const LIMITS: UploadLimits = { maxBytes: 10_000_000, maxRows: 100_000, maxRowBytes: 1_024 };
const log = { info() {}, warn() {}, error() {} };
/** results.csv columns after the 7 input columns. */
const [STATUS, ERROR, REASON] = [7, 10, 11];
const clock = () => new Date('2026-03-01T10:00:00.000Z');
/** A routing table after PROVIDERS changed: no row's route has an enabled provider. */
const noneEnabled = (): readonly string[] => {
  throw new ProviderNotEnabledError('A', ['a1topup'], ['telgoo5']);
};
const NOT_ENABLED = 'operator: A orders go to a1topup, which is not enabled here (PROVIDERS=telgoo5)';

/** Makes an order the way the API does, outside any batch. */
async function seedOrder(ledger: FlowLedger, orderId: string, number: string, amount: string) {
  const validated = validateRechargeRequest({ operator: 'A', circle: '5', number, amount });
  if (!validated.ok) throw new Error('bad seed');
  const key = { clientId: CLIENT, orderId };
  const order: NewOrder = {
    ...key,
    providerOrderId: providerOrderId(key, 1),
    provider: 'a1topup',
    route: ['a1topup'],
    request: validated.value,
    fingerprint: requestFingerprint(validated.value),
    now: clock().toISOString(),
  };
  const [result] = await ledger.createOrders([order]);
  expect(result?.created).toBe(true);
}

/** The ledger with some methods replaced (a crash, a stale read), the rest its own. */
function override(ledger: FlowLedger, patch: Partial<FlowLedger>): FlowLedger {
  return new Proxy(ledger, {
    get(target, property, receiver) {
      if (property in patch) return patch[property as keyof FlowLedger];
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function upload(ledger: FlowLedger, text: string | Buffer, limits = LIMITS) {
  return storeUpload({
    ledger,
    clientId: CLIENT,
    source: pieces(text),
    filename: 'orders.csv',
    limits,
    now: clock,
  });
}

async function resultsOf(ledger: FlowLedger, batchId: string): Promise<{ text: string; rows: string[][] }> {
  let text = '';
  for await (const part of writeResultsCsv({ ledger, clientId: CLIENT, batchId })) text += part;
  return { text, rows: parse(text, { relax_column_count: false }) };
}

async function total(ledger: FlowLedger, batchId: string): Promise<number> {
  const states = await ledger.batchStates(batchId);
  return Object.values(states).reduce((sum, n) => sum + (n ?? 0), 0);
}

/**
 * The batch flow end to end (upload, import, view, results.csv) on a store: the same scenarios
 * run on the in-memory contract stand-in and on the Redis ledger with a real BullMQ queue.
 */
export function describeBatchFlow(name: string, setup: () => Promise<FlowFixture>): void {
  describe(`CSV batches on ${name}`, () => {
    let fx: FlowFixture;
    beforeEach(async () => {
      fx = await setup();
    });
    afterEach(async () => {
      await fx.cleanup();
    });
    const deps = () => ({ ledger: fx.ledger, producer: fx.producer, log, now: clock });

    it('2,000 rows with 20 bad ones: 1,980 orders and jobs, 20 explained errors, results.csv in input order', async () => {
      for (const old of EXISTING_CONFLICTS) await seedOrder(fx.ledger, old.orderId, old.number, old.amount);
      await seedOrder(fx.ledger, EXISTING_SAME.orderId, EXISTING_SAME.number, EXISTING_SAME.amount);
      const { text, bad } = sampleCsv('r');
      const stored = await upload(fx.ledger, text);
      expect(stored).toMatchObject({
        created: true,
        rows: 2_000,
        batch: { state: 'stored', bytes: text.length },
      });
      expect(stored.batch.batchId).toMatch(/^b_[A-Za-z0-9_-]{16}$/);

      const outcome = await importBatch(
        deps(),
        { clientId: CLIENT, batchId: stored.batch.batchId },
        { chunkRows: 300, pipelineDepth: 1 },
      );
      expect(outcome).toEqual({ kind: 'imported', rows: 2_000, accepted: 1_980, rejected: 20 });
      const batch = await fx.ledger.getBatch(CLIENT, stored.batch.batchId);
      expect(batch).toMatchObject({
        state: 'imported',
        rowsRead: 2_000,
        rowsCommitted: 2_000,
        accepted: 1_980,
        rejected: 20,
      });
      expect(await fx.ledger.batchStates(stored.batch.batchId)).toEqual({ queued: 1_980 });
      expect(await fx.jobCount('a1topup')).toBe(1_980);
      const view = await batchView(fx.ledger, batch!);
      expect(view).toMatchObject({
        state: 'imported',
        filename: 'orders.csv',
        rows: { read: 2_000, accepted: 1_980, rejected: 20 },
        error: null,
      });
      expect(view.orders.queued).toBe(1_980);

      const results = await resultsOf(fx.ledger, stored.batch.batchId);
      expect(results.rows).toHaveLength(2_001);
      expect(results.rows[0]).toEqual([
        ...HEADER.split(','),
        'status',
        'providerOrderId',
        'providerRef',
        'error',
        'reason',
      ]);
      const input = text.trimEnd().split('\n');
      for (let row = 1; row <= 2_000; row++) {
        const cells = results.rows[row] as string[];
        const mentions = bad.get(row);
        if (mentions) {
          expect(cells[STATUS], `row ${row}`).toBe('rejected');
          expect(cells[ERROR], `row ${row}`).toMatch(mentions);
          expect(cells[REASON], `row ${row}`).toBe(cells[ERROR]);
        } else {
          expect(cells.slice(0, 7).join(','), `row ${row}`).toBe(input[row]);
          expect(cells[STATUS]).toBe('queued');
          expect(cells[8]).toMatch(/^RF[0-9A-F]{24}$/);
          expect(cells[ERROR]).toBe('');
          expect(cells[REASON]).toBe('waiting to be sent to a1topup');
        }
      }
      // The formula-looking circle comes back as text, never as a live formula.
      expect(results.text).toContain(",'=1+2,");
      expect(results.text).not.toMatch(/,=1\+2/);
      // The row that repeated an order made earlier is linked to it, and counted once.
      expect(results.rows[501]?.slice(0, 1)).toEqual([EXISTING_SAME.orderId]);
      expect(results.rows[501]?.[8]).toBe(
        providerOrderId({ clientId: CLIENT, orderId: EXISTING_SAME.orderId }, 1),
      );
    });

    it('the same bytes uploaded again are the same batch, and nothing new is made', async () => {
      const { text } = sampleCsv('again');
      const first = await upload(fx.ledger, text);
      await importBatch(deps(), { clientId: CLIENT, batchId: first.batch.batchId });
      const before = await total(fx.ledger, first.batch.batchId);
      const second = await upload(fx.ledger, text);
      expect(second.created).toBe(false);
      expect(second.batch.batchId).toBe(first.batch.batchId);
      expect(await importBatch(deps(), { clientId: CLIENT, batchId: second.batch.batchId })).toEqual({
        kind: 'already',
        state: 'imported',
      });
      expect(await total(fx.ledger, first.batch.batchId)).toBe(before);
      expect(await fx.jobCount('a1topup')).toBe(before);
    });

    it('an import that stops part-way (paused, then crashed before a commit) resumes with no duplicate and exact counts', async () => {
      const { text } = sampleCsv('crash');
      const { batch } = await upload(fx.ledger, text);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      // What the metrics are told: every committed row once, across the pause, the crash and the resume.
      const told = { accepted: 0, rejected: 0 };
      const counting = () => ({
        ...deps(),
        onRowsCommitted: (accepted: number, rejected: number) => {
          told.accepted += accepted;
          told.rejected += rejected;
        },
      });
      expect(await importBatch(counting(), key, { chunkRows: 500, maxChunks: 2 })).toEqual({
        kind: 'paused',
        rows: 1_000,
      });
      expect(await fx.ledger.getBatch(CLIENT, batch.batchId)).toMatchObject({
        state: 'importing',
        rowsCommitted: 1_000,
      });
      const stale = await fx.ledger.getBatch(CLIENT, batch.batchId);

      // Dies after writing the next chunk's orders and jobs, before its checkpoint.
      const crashing = override(fx.ledger, {
        commitRows: async () => {
          throw new Error('process killed');
        },
      });
      await expect(importBatch({ ...counting(), ledger: crashing }, key, { chunkRows: 500 })).rejects.toThrow(
        'process killed',
      );
      expect(await fx.ledger.getBatch(CLIENT, batch.batchId)).toMatchObject({ rowsCommitted: 1_000 });
      expect(told.accepted + told.rejected).toBe(1_000);

      const done = await importBatch(counting(), key, { chunkRows: 300, pipelineDepth: 3 });
      expect(done).toMatchObject({ kind: 'imported', rows: 2_000 });
      const after = await fx.ledger.getBatch(CLIENT, batch.batchId);
      // No orders were made before this upload: the two rows reusing old ids are new orders here.
      expect(after).toMatchObject({ rowsCommitted: 2_000, accepted: 1_982, rejected: 18 });
      expect(told).toEqual({ accepted: 1_982, rejected: 18 });
      expect(await total(fx.ledger, batch.batchId)).toBe(1_982);
      expect(await fx.jobCount('a1topup')).toBe(1_982);
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows).toHaveLength(2_001);
      expect(results.rows.slice(1).filter((r) => r[7] === 'queued')).toHaveLength(1_982);

      // A run that read the batch before another run committed stops quietly.
      const slow = override(fx.ledger, { getBatch: async () => ({ ...stale!, state: 'importing' }) });
      expect(await importBatch({ ...deps(), ledger: slow }, key, { chunkRows: 500 })).toMatchObject({
        kind: 'superseded',
      });
      expect(await fx.ledger.getBatch(CLIENT, batch.batchId)).toMatchObject({
        rowsCommitted: 2_000,
        accepted: 1_982,
      });
      expect(await total(fx.ledger, batch.batchId)).toBe(1_982);
      expect(await fx.jobCount('a1topup')).toBe(1_982);
    });

    it('refuses a row whose order id retention archived, with the reason, and imports the rest', async () => {
      const text = [
        HEADER,
        'keep-1,A,5,9800000001,10,,',
        'gone-1,A,5,9800000002,10,,',
        'keep-2,A,5,9800000003,10,,',
      ].join('\n');
      const { batch } = await upload(fx.ledger, text);
      // The ledger answers `archived` for gone-1, as the Redis ledger does for a key whose tombstone stands.
      const archiving = override(fx.ledger, {
        createBatchOrders: async (chunk) => {
          const at = chunk.orders.findIndex((order) => order.orderId === 'gone-1');
          const rest = await fx.ledger.createBatchOrders({
            ...chunk,
            orders: chunk.orders.filter((order) => order.orderId !== 'gone-1'),
          });
          return at < 0 ? rest : [...rest.slice(0, at), { kind: 'archived' as const }, ...rest.slice(at)];
        },
      });
      const key = { clientId: CLIENT, batchId: batch.batchId };
      expect(await importBatch({ ...deps(), ledger: archiving }, key)).toMatchObject({
        kind: 'imported',
        rows: 3,
        accepted: 2,
        rejected: 1,
      });
      expect(await fx.jobCount('a1topup')).toBe(2);
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows[2]?.[0]).toBe('gone-1');
      expect(results.rows[2]?.[ERROR]).toContain('orderId: gone-1 belongs to an order that was archived');
      expect(
        results.rows
          .slice(1)
          .filter((r) => r[STATUS] === 'queued')
          .map((r) => r[0]),
      ).toEqual(['keep-1', 'keep-2']);
    });

    it('a row naming an order the client already has is answered by it even when its route is not enabled now; only new orders are refused', async () => {
      // Made (and charged) while a1topup was enabled; PROVIDERS has changed since.
      await seedOrder(fx.ledger, 'paid-1', '9812345678', '10');
      await fx.settle({ clientId: CLIENT, orderId: 'paid-1' }, 'success', 'OP-1');
      await seedOrder(fx.ledger, 'waiting-1', '9812345679', '10');
      await seedOrder(fx.ledger, 'other-1', '9812345670', '10');
      const text = [
        HEADER,
        'paid-1,A,5,9812345678,10,,',
        'waiting-1,A,5,9812345679,10,,',
        'other-1,A,5,9812345670,99,,',
        'new-1,A,5,9812345671,10,,',
      ].join('\n');
      const { batch } = await upload(fx.ledger, text);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      expect(await importBatch({ ...deps(), routeFor: noneEnabled }, key)).toMatchObject({
        kind: 'imported',
        rows: 4,
        accepted: 2,
        rejected: 2,
      });
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.slice(1).map((r) => [r[0], r[STATUS], r[9], r[ERROR]])).toEqual([
        ['paid-1', 'success', 'OP-1', ''],
        ['waiting-1', 'queued', '', ''],
        [
          'other-1',
          'rejected',
          '',
          expect.stringContaining('orderId: other-1 was already used for a different recharge'),
        ],
        ['new-1', 'rejected', '', NOT_ENABLED],
      ]);
      expect(results.rows[1]?.[8]).toBe(providerOrderId({ clientId: CLIENT, orderId: 'paid-1' }, 1));
      // The existing orders are linked to the batch; nothing is made for the refused ones.
      expect(await fx.ledger.batchStates(batch.batchId)).toEqual({ success: 1, queued: 1 });
      expect(await fx.ledger.getOrder({ clientId: CLIENT, orderId: 'new-1' })).toBeNull();
      // The queued one keeps its own provider: its job (maybe lost) is there, on a1topup's queue.
      expect(await fx.jobCount('a1topup')).toBe(1);
    });

    it('a rerun after PROVIDERS changed answers the rows whose orders the crashed run made, and refuses only the rest', async () => {
      const text = [
        HEADER,
        'c-1,A,5,9812300001,10,,',
        'c-2,A,5,9812300002,10,,',
        'c-3,A,5,9812300003,10,,',
        'c-4,A,5,9812300004,10,,',
      ].join('\n');
      const { batch } = await upload(fx.ledger, text);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      // The first run makes the first chunk's orders and jobs, then dies before its checkpoint.
      const crashing = override(fx.ledger, {
        commitRows: async () => {
          throw new Error('process killed');
        },
      });
      await expect(
        importBatch({ ...deps(), ledger: crashing }, key, { chunkRows: 2, pipelineDepth: 1 }),
      ).rejects.toThrow('process killed');
      expect(await fx.ledger.batchStates(batch.batchId)).toEqual({ queued: 2 });

      const rerun = await importBatch({ ...deps(), routeFor: noneEnabled }, key, {
        chunkRows: 2,
        pipelineDepth: 1,
      });
      expect(rerun).toEqual({ kind: 'imported', rows: 4, accepted: 2, rejected: 2 });
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.slice(1).map((r) => [r[0], r[STATUS], r[ERROR]])).toEqual([
        ['c-1', 'queued', ''],
        ['c-2', 'queued', ''],
        ['c-3', 'rejected', NOT_ENABLED],
        ['c-4', 'rejected', NOT_ENABLED],
      ]);
      expect(await fx.ledger.batchStates(batch.batchId)).toEqual({ queued: 2 });
      expect(await fx.jobCount('a1topup')).toBe(2);
    });

    it('a queue failing part-way fails the run; the retry adds every job once and commits every row once', async () => {
      const { text } = sampleCsv('flaky');
      const { batch } = await upload(fx.ledger, text);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      let calls = 0;
      const flaky: RechargeJobSink = {
        enqueueBulk: async (name, jobs, partition) => {
          calls += 1;
          if (calls === 3) throw new Error('queue unavailable');
          return fx.producer.enqueueBulk(name, jobs, partition);
        },
        backlog: (name, partition) => fx.producer.backlog(name, partition),
      };
      await expect(importBatch({ ...deps(), producer: flaky }, key, { chunkRows: 400 })).rejects.toThrow(
        'queue unavailable',
      );
      const between = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(between).toMatchObject({ state: 'importing' });
      expect(between?.rowsCommitted).toBeLessThan(2_000);
      expect(await importBatch(deps(), key, { chunkRows: 400 })).toMatchObject({
        kind: 'imported',
        rows: 2_000,
        accepted: 1_982,
      });
      expect(await total(fx.ledger, batch.batchId)).toBe(1_982);
      expect(await fx.jobCount('a1topup')).toBe(1_982);
    });

    it('stops with the reason when the stored file cannot be read back, and leaves a passing failure to the retry', async () => {
      const { text } = sampleCsv('broken');
      const { batch } = await upload(fx.ledger, text);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      const firstPart = Buffer.from(text).subarray(0, 20_000);
      const reading = (failure: Error) =>
        override(fx.ledger, {
          readUpload: async function* () {
            yield firstPart;
            throw failure;
          },
        });
      await expect(
        importBatch({ ...deps(), ledger: reading(new Error('connection lost')) }, key),
      ).rejects.toThrow('connection lost');
      const interrupted = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(interrupted?.state).toBe('importing');
      expect(interrupted?.error).toBeUndefined();
      const missing = new RechargeflowError(
        'the stored upload has 20000 bytes, not 60000: a chunk is missing',
      );
      const outcome = await importBatch({ ...deps(), ledger: reading(missing) }, key, { chunkRows: 100 });
      expect(outcome).toMatchObject({ kind: 'stopped' });
      const after = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(after?.state).toBe('imported');
      expect(after?.error).toMatch(
        /^the import stopped after row [0-9,]+: the stored upload has 20000 bytes, not 60000: a chunk is missing$/,
      );
      // The rows after the last commit are not read: counted as far as the stored file can be read.
      expect(outcome).toMatchObject({ atLine: after!.rowsCommitted + 2 });
      expect(after?.stoppedAtLine).toBe(after!.rowsCommitted + 2);
      expect(after?.rowsNotRead).toBeGreaterThan(0);
      expect((await batchView(fx.ledger, after!)).state).toBe('stopped');
    });

    it('shows each order as it is now, and the batch done once no order is still moving', async () => {
      const text = [HEADER, 's-1,A,5,9876500000,10,,', 's-2,A,5,9876500001,10,,', 's-3,A,5,-98765,10,,'].join(
        '\n',
      );
      const { batch } = await upload(fx.ledger, text);
      await importBatch(deps(), { clientId: CLIENT, batchId: batch.batchId });
      const view = async () => batchView(fx.ledger, (await fx.ledger.getBatch(CLIENT, batch.batchId))!);
      expect(await view()).toMatchObject({ state: 'imported', orders: { queued: 2, success: 0 } });
      await fx.settle({ clientId: CLIENT, orderId: 's-1' }, 'success', 'OP-77');
      await fx.settle({ clientId: CLIENT, orderId: 's-2' }, 'pending');
      expect(await view()).toMatchObject({
        state: 'imported',
        orders: { queued: 0, success: 1, pending: 1 },
      });
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.slice(1).map((r) => [r[0], r[3], r[7], r[9]])).toEqual([
        ['s-1', '9876500000', 'success', 'OP-77'],
        ['s-2', '9876500001', 'pending', ''],
        ['s-3', "'-98765", 'rejected', ''],
      ]);
      expect(results.rows[1]?.[REASON]).toBe('');
      expect(results.rows[2]?.[REASON]).toMatch(/^sent to a1topup; waiting for its final answer/);
      await fx.settle(
        { clientId: CLIENT, orderId: 's-2' },
        'failed',
        undefined,
        'a1topup refused: 9876500001 is barred by the operator',
      );
      expect(await view()).toMatchObject({ state: 'done', settled: true, orders: { success: 1, failed: 1 } });
      // The failed order says why, in the words of its history, without its full number.
      const after = await resultsOf(fx.ledger, batch.batchId);
      expect(after.rows[2]?.slice(STATUS)).toEqual([
        'failed',
        expect.stringMatching(/^RF/),
        '',
        '',
        'a1topup refused: 98******01 is barred by the operator',
      ]);
    });

    it('stops the whole batch on a wrong header, naming the columns', async () => {
      const extra = await upload(
        fx.ledger,
        'orderId,operator,number,amount,colour\nmp-1,A,9876500000,10,red\n',
      );
      const outcome = await importBatch(deps(), { clientId: CLIENT, batchId: extra.batch.batchId });
      expect(outcome).toMatchObject({ kind: 'stopped', rows: 0 });
      const batch = await fx.ledger.getBatch(CLIENT, extra.batch.batchId);
      expect(batch?.error).toBe(
        'extra column "colour": allowed columns are orderId, operator, circle, number, amount, value1, value2',
      );
      const view = await batchView(fx.ledger, batch!);
      // Stopped, never done: the one row below the header was not read.
      expect(view).toMatchObject({
        state: 'stopped',
        rows: { read: 0, accepted: 0, rejected: 0, notRead: 1 },
        stoppedAtLine: 1,
        stoppedReason: batch?.error,
        settled: true,
      });
      expect(await total(fx.ledger, extra.batch.batchId)).toBe(0);

      const missing = await upload(fx.ledger, 'orderId,operator,number\nmp-2,A,9876500000\n\nmp-3,A,1\n');
      await importBatch(deps(), { clientId: CLIENT, batchId: missing.batch.batchId });
      expect((await fx.ledger.getBatch(CLIENT, missing.batch.batchId))?.error).toMatch(
        /^missing column "amount"/,
      );
      const results = await resultsOf(fx.ledger, missing.batch.batchId);
      expect(results.rows).toHaveLength(3);
      for (const row of results.rows.slice(1)) {
        expect(row.slice(0, STATUS)).toEqual(['', '', '', '', '', '', '']);
        expect(row[STATUS]).toBe('not_read');
        expect(row[REASON]).toMatch(/^not read: reading the file stopped at line 1: missing column "amount"/);
      }
    });

    it('reads CSV as spreadsheets write it: BOM, CRLF, quotes, blank lines, any column order, no final newline', async () => {
      const text =
        '\uFEFFAmount,Number,ORDERID,operator\r\n"10",98765 00000,q-1,A\r\n\r\n,,,\r\n"1,000",9876500001,q-2,A\r\n10,9876500002,"q-3",A';
      const { batch, rows } = await upload(fx.ledger, text);
      expect(rows).toBe(4); // the blank line is not counted; the ",,," line is (it is not empty)
      const outcome = await importBatch(deps(), { clientId: CLIENT, batchId: batch.batchId });
      expect(outcome).toEqual({ kind: 'imported', rows: 3, accepted: 2, rejected: 1 });
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.map((r) => r.slice(0, 5))).toEqual([
        ['amount', 'number', 'orderId', 'operator', 'status'],
        ['10', '98765 00000', 'q-1', 'A', 'queued'],
        ['1,000', '9876500001', 'q-2', 'A', 'rejected'],
        ['10', '9876500002', 'q-3', 'A', 'queued'],
      ]);
      expect(results.rows[2]?.[7]).toMatch(/^amount: must be an amount in rupees/);
    });

    it('keeps the rows before a quote that is never closed, and says where reading stopped', async () => {
      const lines = [
        HEADER,
        'u-1,A,5,9876500000,10,,',
        'u-2,A,5,"9876500001,10,,',
        'u-3,A,5,9876500002,10,,',
      ];
      const { batch } = await upload(fx.ledger, `${lines.join('\n')}\n`);
      const outcome = await importBatch(deps(), { clientId: CLIENT, batchId: batch.batchId });
      expect(outcome).toMatchObject({ kind: 'stopped', rows: 1, atLine: 3, notRead: 2 });
      const after = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(after).toMatchObject({
        state: 'imported',
        rowsCommitted: 1,
        accepted: 1,
        stoppedAtLine: 3,
        rowsNotRead: 2,
      });
      expect(after?.error).toMatch(/^row 2: a cell starts with a double quote/);
      expect(await batchView(fx.ledger, after!)).toMatchObject({
        state: 'stopped',
        rows: { read: 1, accepted: 1, rejected: 0, notRead: 2 },
        stoppedAtLine: 3,
        stoppedReason: after?.error,
        error: after?.error,
      });
      // One line per input row: row 1 as usual, rows 2 and 3 not read, saying where and why.
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.map((r) => r[STATUS])).toEqual(['status', 'queued', 'not_read', 'not_read']);
      expect(results.rows[0]).toHaveLength(12);
      expect(results.rows[3]?.[REASON]).toMatch(
        /^not read: reading the file stopped at line 3: row 2: a cell starts with a double quote/,
      );
      expect(results.rows[3]?.[ERROR]).toBe(results.rows[3]?.[REASON]);

      // In the header (closed by row 2's quote, swallowing rows 1 and 2): nothing read; every line
      // below the header is a row not read.
      const header = await upload(
        fx.ledger,
        `orderId,"operator,number,amount\n${lines.slice(1).join('\n')}\n`,
      );
      expect(await importBatch(deps(), { clientId: CLIENT, batchId: header.batch.batchId })).toMatchObject({
        kind: 'stopped',
        rows: 0,
        atLine: 1,
        notRead: 3,
        error: expect.stringMatching(
          /^the header row: a cell starts with a double quote \("\) that is only closed on a later line/,
        ),
      });
      expect((await resultsOf(fx.ledger, header.batch.batchId)).rows.map((r) => r[STATUS])).toEqual([
        'status',
        'not_read',
        'not_read',
        'not_read',
      ]);
    });

    it('stops at a line that is not UTF-8 text, and gives every row from there a line', async () => {
      const lines = [HEADER, 'n-1,A,5,9876500000,10,,', 'n-2,A,5,9876500001,10,,', 'n-3,A,5,9876500002,10,,'];
      const latin1 = Buffer.concat([
        Buffer.from(`${lines.slice(0, 3).join('\n')}\n`),
        Buffer.from('n-3,A,5,9876500002,10,Caf\xe9,\n\nn-4,A,5,9876500003,10,,\n', 'latin1'),
      ]);
      const { batch } = await upload(fx.ledger, latin1);
      const outcome = await importBatch(deps(), { clientId: CLIENT, batchId: batch.batchId });
      expect(outcome).toMatchObject({ kind: 'stopped', rows: 2, atLine: 4, notRead: 2 });
      const after = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(after?.error).toMatch(/^row 3: line 4 of the file is not UTF-8 text/);
      expect(await total(fx.ledger, batch.batchId)).toBe(2);
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows.map((r) => r[STATUS])).toEqual([
        'status',
        'queued',
        'queued',
        'not_read',
        'not_read',
      ]);
      // The garbled cell never reaches an order or results.csv.
      expect(results.text).not.toContain('\uFFFD');

      // In the header: nothing is read, every row below it is not read.
      const header = await upload(
        fx.ledger,
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${lines.join('\n')}\n`)]),
      );
      expect(await importBatch(deps(), { clientId: CLIENT, batchId: header.batch.batchId })).toMatchObject({
        kind: 'stopped',
        rows: 0,
        atLine: 1,
        notRead: 3,
        error: expect.stringMatching(/^the header row: line 1 of the file is not UTF-8 text/),
      });
      expect((await resultsOf(fx.ledger, header.batch.batchId)).rows).toHaveLength(4);
    });

    it('writes the rows not read of a large file in bounded pieces', async () => {
      const rows = 25_000;
      const text = `${HEADER}\nbig-1,A,5,9876500000,10,,\nbig-2,A,5,"9876500001,10,,\n${'big-n,A,5,9876500002,10,,\n'.repeat(rows - 2)}`;
      const { batch } = await upload(fx.ledger, text);
      expect(await importBatch(deps(), { clientId: CLIENT, batchId: batch.batchId })).toMatchObject({
        kind: 'stopped',
        rows: 1,
        notRead: rows - 1,
      });
      let lines = 0;
      let largest = 0;
      for await (const piece of writeResultsCsv({
        ledger: fx.ledger,
        clientId: CLIENT,
        batchId: batch.batchId,
      })) {
        const count = piece.split('\r\n').length - 1;
        lines += count;
        largest = Math.max(largest, count);
      }
      expect(lines).toBe(rows + 1);
      expect(largest).toBeLessThanOrEqual(1_000);
    });

    it('refuses a row made too long by quoted line breaks, and stops where a quote swallows the rest', async () => {
      const lines = [
        HEADER,
        'm-1,A,5,9876500000,10,,',
        `m-2,LAT,,22334455,100,"01\n${'1'.repeat(60)}\n${'2'.repeat(60)}",`,
        'm-3,A,5,9876500001,10,,',
        `m-4,A,5,"9876500002,10,,`,
        ...Array.from({ length: 100 }, (_, i) => `m-${i + 5},A,5,9876500003,10,,${'x'.repeat(900)}`),
      ];
      const { batch } = await upload(fx.ledger, `${lines.join('\n')}\n`);
      const outcome = await importBatch(
        deps(),
        { clientId: CLIENT, batchId: batch.batchId },
        { maxRowBytes: 100 },
      );
      // m-4 starts on line 7 (m-2 spans lines 3 to 5); it and the 100 rows below are not read.
      expect(outcome).toMatchObject({ kind: 'stopped', rows: 3, atLine: 7, notRead: 101 });
      const after = await fx.ledger.getBatch(CLIENT, batch.batchId);
      expect(after).toMatchObject({ rowsCommitted: 3, accepted: 2, rejected: 1, rowsNotRead: 101 });
      expect(after?.error).toMatch(
        /^row 4: the row goes on for more than 65,536 bytes, usually because a double quote/,
      );
      const results = await resultsOf(fx.ledger, batch.batchId);
      expect(results.rows[2]?.[10]).toBe('the row is longer than 100 bytes, the limit for one row');
      expect(results.rows[2]?.[5]).toContain('\n'); // kept as read, line breaks and all
      expect(results.rows).toHaveLength(1 + 3 + 101);
      expect(results.rows.slice(4).every((r) => r[STATUS] === 'not_read')).toBe(true);
    });

    it('refuses uploads over a limit, naming it, and empty ones', async () => {
      const rows = (n: number, eol = '\n') =>
        [HEADER, ...Array.from({ length: n }, (_, i) => `l-${i},A,5,9876500000,10,,`)].join(eol);
      const limits = { maxBytes: 1_000, maxRows: 5, maxRowBytes: 60 };
      const refusal = async (text: string, use = limits) => {
        try {
          await upload(fx.ledger, text, use);
        } catch (error) {
          if (error instanceof UploadLimitError) return error;
          throw error;
        }
        throw new Error('accepted');
      };
      // At the limits exactly, with CRLF and no final newline: accepted.
      expect((await upload(fx.ledger, rows(5, '\r\n'), limits)).rows).toBe(5);
      expect(await refusal(rows(6))).toMatchObject({
        limit: 'rows',
        max: 5,
        message: 'the file has more than 5 rows, the limit for one upload; split it into smaller files',
      });
      expect(await refusal(`${rows(6, '\r\n')}\r\n`)).toMatchObject({ limit: 'rows' });
      expect(await refusal(`${rows(1)}\n${'x'.repeat(61)}`)).toMatchObject({
        limit: 'row_length',
        max: 60,
        message: 'line 3 of the file is longer than 60 bytes, the limit for one row',
      });
      // A line with no end in sight is refused as soon as it passes the limit.
      expect(await refusal(`${HEADER}\n${'y'.repeat(900)}`)).toMatchObject({ limit: 'row_length' });
      const big = await refusal(`${HEADER}\n`.repeat(30), { ...limits, maxRows: 1_000 });
      expect(big).toMatchObject({ limit: 'bytes', max: 1_000 });
      expect(big.message).toMatch(/^the file is larger than 1,000 bytes, the limit/);
      expect(await refusal('')).toMatchObject({ limit: 'empty' });
      expect(await refusal(`${HEADER}\r\n\r\n`)).toMatchObject({
        limit: 'empty',
        message: expect.stringMatching(/no rows below it/),
      });
    });

    it("leaves nothing of an upload refused, repeated or broken off, and caps a client's bytes not imported", async () => {
      const written = new Set<string>();
      const ledger = override(fx.ledger, {
        putUploadChunk: (batchId, index, data, lease) => {
          written.add(batchId);
          return fx.ledger.putUploadChunk(batchId, index, data, lease);
        },
      });
      /** Upload ids written that hold bytes but are no batch. */
      const orphans = async () => {
        const found: string[] = [];
        for (const batchId of written) {
          if ((await fx.ledger.getBatch(CLIENT, batchId)) !== null) continue;
          for await (const _chunk of fx.ledger.readUpload(batchId)) {
            found.push(batchId);
            break;
          }
        }
        return found;
      };
      // 3 MiB of blank lines: stored in chunks as they stream by, then refused as empty.
      await expect(upload(ledger, '\n'.repeat(3 * 1024 * 1024 + 5))).rejects.toMatchObject({
        limit: 'empty',
      });
      // The same file again.
      const { text } = sampleCsv('leak');
      const first = await upload(ledger, text);
      expect((await upload(ledger, text)).created).toBe(false);
      // A client that goes away after 2 MiB.
      const row = 'l-1,A,5,9876500000,10,,\n';
      async function* brokenOff() {
        yield Buffer.from(`${HEADER}\n${row.repeat(Math.ceil((2 * 1024 * 1024) / row.length))}`);
        throw new Error('aborted');
      }
      await expect(
        storeUpload({ ledger, clientId: CLIENT, source: brokenOff(), limits: LIMITS, now: clock }),
      ).rejects.toThrow('aborted');
      expect(written.size).toBe(4);
      expect(await orphans()).toEqual([]);
      expect(await fx.ledger.pendingUploadBytes(CLIENT)).toBe(first.batch.bytes);

      // The client's bytes not yet imported: the stored batch counts until it is imported.
      const capped = { ...LIMITS, maxPendingBytes: first.batch.bytes + 1_000 };
      const other = sampleCsv('cap').text;
      await expect(upload(ledger, other, capped)).rejects.toMatchObject({
        limit: 'pending_bytes',
        max: first.batch.bytes + 1_000,
        message: expect.stringMatching(/, the limit per client/),
      });
      expect(await orphans()).toEqual([]);
      await fx.ledger.updateBatch(first.batch.batchId, { state: 'imported' }, clock().toISOString());
      expect(await fx.ledger.pendingUploadBytes(CLIENT)).toBe(0);
      expect((await upload(ledger, other, capped)).created).toBe(true);
    });

    it('a batch bigger than the queues have room for: jobs up to the backlog, the rest released as they drain, one per order', async () => {
      const lines = [HEADER];
      for (let i = 1; i <= 2_000; i++) lines.push(`rel-${i},A,5,${9_800_000_000 + i},${10 + (i % 90)},,`);
      const { batch } = await upload(fx.ledger, `${lines.join('\n')}\n`);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      const release = { ledger: fx.ledger, producer: fx.producer, log };
      // Nothing is committed yet: the release waits for the import.
      await expect(releaseBatch(release, key, { backlog: 500, waitMs: 7 })).rejects.toMatchObject({
        constructor: ReleaseWaitError,
        retryable: true,
        retryAfterMs: 7,
      });

      const outcome = await importBatch(deps(), key, { chunkRows: 200, releaseBacklog: 500 });
      expect(outcome).toMatchObject({ kind: 'imported', accepted: 2_000, rejected: 0 });
      const imported = await fx.ledger.getBatch(CLIENT, batch.batchId);
      // Chunks decide in order, each while the queue had room when it looked (up to the four in
      // flight may look before the jobs of the ones ahead are in): a stretch from row 1.
      const released = imported?.rowsReleased ?? 0;
      expect(released).toBeGreaterThanOrEqual(600);
      expect(released).toBeLessThan(2_000);
      expect(released % 200).toBe(0);
      expect(await fx.jobCount('a1topup')).toBe(released);
      expect(await fx.ledger.batchStates(batch.batchId)).toEqual({ queued: 2_000 });

      // The queue is full: the release waits and adds nothing; told the providers enabled here, it
      // waits without reading the next chunk back.
      await expect(releaseBatch(release, key, { backlog: 500 })).rejects.toBeInstanceOf(ReleaseWaitError);
      const reads: number[] = [];
      const counting = override(fx.ledger, {
        readRowChunk: async (batchId, firstRow) => {
          reads.push(firstRow);
          return fx.ledger.readRowChunk(batchId, firstRow);
        },
      });
      await expect(
        releaseBatch({ ...release, ledger: counting }, key, { backlog: 500, providers: ['a1topup'] }),
      ).rejects.toBeInstanceOf(ReleaseWaitError);
      expect(reads).toEqual([]);
      expect(await fx.jobCount('a1topup')).toBe(released);

      // One order of the rows not released yet moves on before its turn: it gets no job.
      await fx.settle({ clientId: CLIENT, orderId: 'rel-1999' }, 'success', 'ref-1999');
      const taken: string[] = [];
      for (let turn = 0; ; turn++) {
        expect(turn).toBeLessThan(20);
        taken.push(...(await fx.takeJobs('a1topup', 10_000)));
        const result = await releaseBatch(release, key, { backlog: 500 }).catch((error: unknown) => {
          if (error instanceof ReleaseWaitError) return null;
          throw error;
        });
        if (result !== null) {
          expect(result).toEqual({ kind: 'released', rows: 2_000 });
          break;
        }
      }
      taken.push(...(await fx.takeJobs('a1topup', 10_000)));
      const expected = Array.from({ length: 2_000 }, (_, i) => `rel-${i + 1}`)
        .filter((orderId) => orderId !== 'rel-1999')
        .map((orderId) => rechargeJobId({ clientId: CLIENT, orderId }, 'a1topup'));
      expect(taken.toSorted()).toEqual(expected.toSorted());
      expect((await fx.ledger.getBatch(CLIENT, batch.batchId))?.rowsReleased).toBe(2_000);
      // Released already: another run adds nothing.
      expect(await releaseBatch(release, key)).toEqual({ kind: 'released', rows: 2_000 });
      expect(await fx.jobCount('a1topup')).toBe(0);
    });

    it('an import resumed behind rows not released leaves its jobs to the release job', async () => {
      const lines = [HEADER];
      for (let i = 1; i <= 600; i++) lines.push(`res-${i},A,5,${9_700_000_000 + i},20,,`);
      const { batch } = await upload(fx.ledger, `${lines.join('\n')}\n`);
      const key = { clientId: CLIENT, batchId: batch.batchId };
      // The first run commits one chunk but dies before its rows count as released.
      const crashing = override(fx.ledger, {
        releaseRows: async () => {
          throw new Error('crash after the commit');
        },
      });
      await expect(
        importBatch({ ...deps(), ledger: crashing }, key, { chunkRows: 200, pipelineDepth: 1, maxChunks: 1 }),
      ).rejects.toThrow('crash after the commit');
      expect(await fx.ledger.getBatch(CLIENT, batch.batchId)).toMatchObject({
        rowsCommitted: 200,
        rowsReleased: 0,
      });
      expect(await fx.jobCount('a1topup')).toBe(200);

      // The retry finds row 1 not released: it writes the rest and adds no job.
      expect(await importBatch(deps(), key, { chunkRows: 200 })).toMatchObject({
        kind: 'imported',
        accepted: 600,
      });
      expect(await fx.jobCount('a1topup')).toBe(200);
      expect(await releaseBatch({ ledger: fx.ledger, producer: fx.producer, log }, key)).toEqual({
        kind: 'released',
        rows: 600,
      });
      // The first chunk's jobs were there: added once (their ids), the rest now.
      expect(await fx.jobCount('a1topup')).toBe(600);
    });
  });
}
