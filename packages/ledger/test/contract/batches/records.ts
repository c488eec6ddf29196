import { ValidationError } from '@rechargeflow/domain';
import { beforeEach, expect, it } from 'vitest';
import type { BatchStore } from '../../../src/batches/batch-store.ts';
import { at, type LiveFixture } from '../fixtures.ts';
import { collect, newBatch, rows, sha } from './helpers.ts';

/** Batches and their row results: creation, lists, updates and commits. */
export function batchRecordContract(live: LiveFixture): void {
  let store: BatchStore;

  beforeEach(() => {
    store = live.store;
  });

  it('creates a batch once per client and content: the same file again is the same batch', async () => {
    const first = await store.createBatch(newBatch('shop-1', 'b_1', 'a,b\n1,2\n', 1));
    expect(first).toStrictEqual({
      created: true,
      batch: {
        clientId: 'shop-1',
        batchId: 'b_1',
        contentHash: sha('a,b\n1,2\n'),
        bytes: 8,
        filename: 'b_1.csv',
        createdAt: at(1),
        state: 'stored',
        rowsRead: 0,
        accepted: 0,
        rejected: 0,
        rowsCommitted: 0,
        rowsReleased: 0,
        updatedAt: at(1),
      },
    });
    const again = await store.createBatch(newBatch('shop-1', 'b_2', 'a,b\n1,2\n', 2));
    expect(again).toStrictEqual({ created: false, batch: first.batch });
    expect(await store.getBatch('shop-1', 'b_2')).toBeNull();

    const other = await store.createBatch(newBatch('shop-2', 'b_3', 'a,b\n1,2\n', 3));
    expect(other.created).toBe(true);
    expect(other.batch.clientId).toBe('shop-2');

    const { filename: _, ...bare } = newBatch('shop-1', 'b_4', 'other', 4);
    const unnamed = await store.createBatch(bare);
    expect(unnamed.batch).not.toHaveProperty('filename');
    expect(unnamed.batch).not.toHaveProperty('error');

    expect(await store.getBatch('shop-1', 'b_1')).toStrictEqual(first.batch);
    // Another client cannot see it.
    expect(await store.getBatch('shop-2', 'b_1')).toBeNull();
    expect(await store.getBatch('shop-1', 'b_missing')).toBeNull();
    await expect(store.createBatch(newBatch('shop-1', 'b_1', 'third', 5))).rejects.toBeInstanceOf(RangeError);
    await expect(store.createBatch({ ...newBatch('shop-1', 'b_5', 'x'), bytes: -1 })).rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it('creates one batch when the same file is uploaded 10 times at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.createBatch(newBatch('shop-1', `b_race_${i}`, 'same'))),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.batch.batchId)).size).toBe(1);
    expect((await store.listBatches('shop-1', { limit: 20 })).batches).toHaveLength(1);
  });

  it("lists a client's batches newest first with cursor paging", async () => {
    for (let i = 0; i < 5; i += 1) await store.createBatch(newBatch('shop-1', `b_${i}`, `file ${i}`, i));
    await store.createBatch(newBatch('shop-2', 'b_other', 'file 0', 9));
    const first = await store.listBatches('shop-1', { limit: 2 });
    expect(first.batches.map((batch) => batch.batchId)).toEqual(['b_4', 'b_3']);
    expect(first.nextCursor).toBeDefined();
    const second = await store.listBatches('shop-1', { limit: 2, cursor: first.nextCursor });
    expect(second.batches.map((batch) => batch.batchId)).toEqual(['b_2', 'b_1']);
    const third = await store.listBatches('shop-1', { limit: 2, cursor: second.nextCursor });
    expect(third.batches.map((batch) => batch.batchId)).toEqual(['b_0']);
    expect(third.nextCursor).toBeUndefined();
    expect((await store.listBatches('shop-3', { limit: 10 })).batches).toEqual([]);
    await expect(store.listBatches('shop-1', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.listBatches('shop-1', { limit: 501 })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.listBatches('shop-1', { limit: 5, cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('updates a batch and finds batches by state, oldest change first, before a time', async () => {
    await store.createBatch(newBatch('shop-1', 'b_a', 'a', 1));
    await store.createBatch(newBatch('shop-2', 'b_b', 'b', 2));
    await store.createBatch(newBatch('shop-1', 'b_c', 'c', 3));
    const importing = await store.updateBatch('b_a', { state: 'importing', rowsRead: 10 }, at(20));
    expect(importing).toMatchObject({ state: 'importing', rowsRead: 10, updatedAt: at(20) });
    expect(importing).not.toHaveProperty('error');
    await store.updateBatch('b_b', { state: 'importing' }, at(10));
    const stopped = await store.updateBatch('b_c', { error: 'extra column "colour"' }, at(30));
    // A patch without a state leaves the state; one without an error leaves the error.
    expect(stopped).toMatchObject({ state: 'stored', error: 'extra column "colour"', updatedAt: at(30) });
    expect(await store.updateBatch('b_c', { rowsRead: 0 }, at(31))).toMatchObject({
      error: 'extra column "colour"',
    });
    expect(await store.getBatch('shop-1', 'b_a')).toStrictEqual(importing);

    const found = await store.findBatches('importing', at(100), 10);
    expect(found.map((batch) => batch.batchId)).toEqual(['b_b', 'b_a']);
    expect((await store.findBatches('importing', at(20), 10)).map((batch) => batch.batchId)).toEqual(['b_b']);
    expect((await store.findBatches('importing', at(100), 1)).map((batch) => batch.batchId)).toEqual(['b_b']);
    expect((await store.findBatches('stored', at(100), 10)).map((batch) => batch.batchId)).toEqual(['b_c']);
    expect(await store.findBatches('done', at(100), 10)).toEqual([]);
    await expect(store.findBatches('stored', at(100), 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.updateBatch('b_missing', { state: 'done' }, at(40))).rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it('commits row results in sequence only, counting each row once, and reads them back in order', async () => {
    await store.createBatch(newBatch('shop-1', 'b_rows', 'rows'));
    expect(await store.commitRows('b_rows', rows(1, 10, 4), at(1))).toBe(true);
    // A repeat (a restarted import) and a gap are refused and change nothing.
    expect(await store.commitRows('b_rows', rows(1, 10, 4), at(2))).toBe(false);
    expect(await store.commitRows('b_rows', rows(5, 10), at(2))).toBe(false);
    expect(await store.commitRows('b_rows', rows(21, 5), at(2))).toBe(false);
    expect(await store.getBatch('shop-1', 'b_rows')).toMatchObject({
      rowsCommitted: 10,
      accepted: 8,
      rejected: 2,
      updatedAt: at(1),
    });
    expect(await store.commitRows('b_rows', rows(11, 10, 4), at(3))).toBe(true);
    expect(await store.commitRows('b_rows', rows(21, 1), at(4))).toBe(true);
    expect(await store.getBatch('shop-1', 'b_rows')).toMatchObject({
      rowsCommitted: 21,
      accepted: 16,
      rejected: 5,
      updatedAt: at(4),
    });
    const chunks = await collect(store.readRows('b_rows'));
    expect(chunks.map((chunk) => chunk.length)).toEqual([10, 10, 1]);
    expect(chunks.flat()).toStrictEqual(rows(1, 21, 4));

    await expect(store.commitRows('b_rows', [], at(5))).rejects.toBeInstanceOf(RangeError);
    const [row22, , row24] = rows(22, 3);
    await expect(store.commitRows('b_rows', [row22!, row24!], at(5))).rejects.toBeInstanceOf(RangeError);
    await expect(store.commitRows('b_rows', [{ row: 22, cells: {} }], at(5))).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(store.commitRows('b_missing', rows(1, 1), at(5))).rejects.toBeInstanceOf(RangeError);
    expect((await store.getBatch('shop-1', 'b_rows'))?.rowsCommitted).toBe(21);
    expect(await collect(store.readRows('b_none'))).toEqual([]);
  });

  it('commits each chunk exactly once when 10 importers race with the same rows', async () => {
    await store.createBatch(newBatch('shop-1', 'b_race', 'race'));
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => store.commitRows('b_race', rows(1, 5, 2), at(1))),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await store.getBatch('shop-1', 'b_race')).toMatchObject({
      rowsCommitted: 5,
      accepted: 3,
      rejected: 2,
    });
    expect((await collect(store.readRows('b_race'))).flat()).toStrictEqual(rows(1, 5, 2));
  });

  it('reads a commit back by its first row and releases committed rows in order, once', async () => {
    await store.createBatch(newBatch('shop-1', 'b_rel', 'release'));
    // Nothing committed: nothing to read or release.
    expect(await store.readRowChunk('b_rel', 1)).toBeNull();
    expect(await store.releaseRows('b_rel', 1, 10)).toBe(false);
    expect(await store.commitRows('b_rel', rows(1, 10, 4), at(1))).toBe(true);
    expect(await store.commitRows('b_rel', rows(11, 5), at(2))).toBe(true);
    expect(await store.readRowChunk('b_rel', 1)).toStrictEqual(rows(1, 10, 4));
    expect(await store.readRowChunk('b_rel', 11)).toStrictEqual(rows(11, 5));
    expect(await store.readRowChunk('b_rel', 16)).toBeNull();

    // Past what is committed, out of order, or a gap: refused, nothing moves.
    expect(await store.releaseRows('b_rel', 1, 16)).toBe(false);
    expect(await store.releaseRows('b_rel', 11, 5)).toBe(false);
    expect(await store.releaseRows('b_rel', 1, 10)).toBe(true);
    expect(await store.releaseRows('b_rel', 1, 10)).toBe(false);
    expect((await store.getBatch('shop-1', 'b_rel'))?.rowsReleased).toBe(10);
    // Ten runs release the next commit at once: exactly one moves the checkpoint.
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.releaseRows('b_rel', 11, 5)));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const batch = await store.getBatch('shop-1', 'b_rel');
    // Releasing changes neither the counts nor updatedAt (the state indexes stay as they are).
    expect(batch).toMatchObject({ rowsCommitted: 15, rowsReleased: 15, accepted: 13, updatedAt: at(2) });

    await expect(store.releaseRows('b_missing', 1, 1)).rejects.toBeInstanceOf(RangeError);
    await expect(store.releaseRows('b_rel', 0, 1)).rejects.toBeInstanceOf(RangeError);
    await expect(store.releaseRows('b_rel', 16, 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.readRowChunk('b_rel', 1.5)).rejects.toBeInstanceOf(RangeError);
  });
}
