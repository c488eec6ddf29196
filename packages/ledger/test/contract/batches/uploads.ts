import { createHash } from 'node:crypto';
import { beforeEach, expect, it } from 'vitest';
import type { BatchStore } from '../../../src/batches/batch-store.ts';
import {
  LedgerCorruptionError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from '../../../src/ledger-errors.ts';
import { at, type LiveFixture, sleep } from '../fixtures.ts';
import { collect, LEASE, newBatch } from './helpers.ts';

/** Uploads: chunks, leases, the sweep, discards and the per-client cap. */
export function uploadContract(live: LiveFixture): void {
  let store: BatchStore;

  beforeEach(() => {
    store = live.store;
  });

  /** An upload's bytes as stored now, as text. */
  async function uploadText(batchId: string): Promise<string> {
    return Buffer.concat(await collect(store.readUpload(batchId))).toString();
  }

  it('stores the upload in chunks and reads it back byte for byte, binary included', async () => {
    const big = Buffer.alloc(1024 * 1024, 0xab);
    const binary = Buffer.from([0, 255, 13, 10, 0xc3, 0x28, 0, 1, 2]);
    const tail = Buffer.from('last,row\n');
    const whole = Buffer.concat([big, binary, tail]);
    await store.putUploadChunk('b_up', 0, big, LEASE);
    // A first try of chunk 1, rewritten: the last write wins.
    await store.putUploadChunk('b_up', 1, Buffer.from('stale'), LEASE);
    await store.putUploadChunk('b_up', 1, binary, LEASE);
    await store.putUploadChunk('b_up', 2, tail, LEASE);
    await store.createBatch({
      clientId: 'shop-1',
      batchId: 'b_up',
      contentHash: createHash('sha256').update(whole).digest('hex'),
      bytes: whole.length,
      createdAt: at(0),
    });
    const chunks = await collect(store.readUpload('b_up'));
    expect(chunks.map((chunk) => chunk.length)).toEqual([big.length, binary.length, tail.length]);
    expect(Buffer.concat(chunks).equals(whole)).toBe(true);
    expect(await collect(store.readUpload('b_none'))).toEqual([]);

    await expect(
      store.putUploadChunk('b_new', 0, Buffer.alloc(1024 * 1024 + 1), LEASE),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(store.putUploadChunk('b_new', -1, tail, LEASE)).rejects.toBeInstanceOf(RangeError);
    await expect(store.putUploadChunk('b_new', 0, tail, { ...LEASE, leaseMs: 0 })).rejects.toBeInstanceOf(
      RangeError,
    );
    // A stored upload never changes.
    await expect(store.putUploadChunk('b_up', 3, tail, LEASE)).rejects.toBeInstanceOf(RangeError);
    expect(Buffer.concat(await collect(store.readUpload('b_up'))).equals(whole)).toBe(true);
  });

  it('keeps an upload only under its lease until createBatch commits it; the sweep removes what ran out', async () => {
    const short = { clientId: 'shop-1', leaseMs: 1_000 };
    await store.putUploadChunk('b_kept', 0, Buffer.from('a,b\n'), short);
    await store.putUploadChunk('b_lost', 0, Buffer.from('a,b\n'), short);
    await store.putUploadChunk('b_lost', 1, Buffer.from('3,4\n'), short);
    await sleep(600);
    // Every chunk renews the lease of the whole upload: chunk 0 outlives its own first lease.
    await store.putUploadChunk('b_kept', 1, Buffer.from('1,2\n'), short);
    expect(await store.sweepUploads(10)).toBe(0);
    expect(await store.pendingUploadBytes('shop-1')).toBe(16);
    await sleep(600);
    // b_lost ran out; both chunks of b_kept still count.
    expect(await store.pendingUploadBytes('shop-1')).toBe(8);
    expect(await uploadText('b_kept')).toBe('a,b\n1,2\n');
    await store.createBatch(newBatch('shop-1', 'b_kept', 'a,b\n1,2\n'));
    await sleep(1_100);

    // Run out: no longer counted, even before the sweep; then removed by it.
    expect(await store.pendingUploadBytes('shop-1')).toBe(8);
    expect(await store.sweepUploads(10)).toBe(1);
    expect(await collect(store.readUpload('b_lost'))).toEqual([]);
    expect(await store.sweepUploads(10)).toBe(0);
    // The committed upload has no lease any more: it stays with its batch.
    expect(await uploadText('b_kept')).toBe('a,b\n1,2\n');
    expect(await store.pendingUploadBytes('shop-1')).toBe(8);
    // A later chunk cannot bring a run-out upload back half-way.
    await expect(store.putUploadChunk('b_lost', 2, Buffer.from('5,6\n'), short)).rejects.toBeInstanceOf(
      UploadLeaseExpiredError,
    );
    expect(await collect(store.readUpload('b_lost'))).toEqual([]);
    await expect(store.sweepUploads(0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.sweepUploads(1001)).rejects.toBeInstanceOf(RangeError);
  });

  it('discards an upload at once, and never a committed one or one of another client', async () => {
    await store.putUploadChunk('b_gone', 0, Buffer.from('a,b\n'), LEASE);
    await store.putUploadChunk('b_gone', 1, Buffer.from('1,2\n'), LEASE);
    await store.putUploadChunk('b_stay', 0, Buffer.from('a,b\n1,2\n'), LEASE);
    await store.createBatch(newBatch('shop-1', 'b_stay', 'a,b\n1,2\n'));
    await expect(
      store.putUploadChunk('b_gone', 2, Buffer.from('x'), { ...LEASE, clientId: 'shop-2' }),
    ).rejects.toBeInstanceOf(RangeError);
    await store.discardUpload('shop-2', 'b_gone');
    expect(await uploadText('b_gone')).toBe('a,b\n1,2\n');

    await store.discardUpload('shop-1', 'b_gone');
    await store.discardUpload('shop-1', 'b_stay');
    await store.discardUpload('shop-1', 'b_never');
    expect(await collect(store.readUpload('b_gone'))).toEqual([]);
    expect(await uploadText('b_stay')).toBe('a,b\n1,2\n');
    expect(await store.pendingUploadBytes('shop-1')).toBe(8);
    expect(await store.sweepUploads(10)).toBe(0);
  });

  it('removes a second upload of a known file when creating its batch; a retried create keeps the upload', async () => {
    await store.putUploadChunk('b_first', 0, Buffer.from('same\n'), LEASE);
    const first = await store.createBatch(newBatch('shop-1', 'b_first', 'same\n'));
    await store.putUploadChunk('b_again', 0, Buffer.from('same\n'), LEASE);
    expect(await store.pendingUploadBytes('shop-1')).toBe(10);
    const again = await store.createBatch(newBatch('shop-1', 'b_again', 'same\n', 1));
    expect(again).toStrictEqual({ created: false, batch: first.batch });
    expect(await collect(store.readUpload('b_again'))).toEqual([]);
    expect(await store.pendingUploadBytes('shop-1')).toBe(5);

    const retry = await store.createBatch(newBatch('shop-1', 'b_first', 'same\n'));
    expect(retry).toStrictEqual({ created: false, batch: first.batch });
    expect(await uploadText('b_first')).toBe('same\n');
    expect(await store.pendingUploadBytes('shop-1')).toBe(5);
  });

  it("caps a client's bytes not yet imported: uploads in progress and batches stored or importing count", async () => {
    const capped = { clientId: 'shop-1', leaseMs: 60_000, maxPendingBytes: 10 };
    await store.putUploadChunk('b_q1', 0, Buffer.from('123456'), capped);
    await store.createBatch(newBatch('shop-1', 'b_q1', '123456'));
    await store.putUploadChunk('b_q2', 0, Buffer.from('1234'), capped);
    expect(await store.pendingUploadBytes('shop-1')).toBe(10);
    const refused = store.putUploadChunk('b_q2', 1, Buffer.from('5'), capped);
    await expect(refused).rejects.toBeInstanceOf(UploadQuotaError);
    await expect(refused).rejects.toMatchObject({ maxPendingBytes: 10, pendingBytes: 10 });
    // Nothing written: the upload still ends after chunk 0.
    expect(await uploadText('b_q2')).toBe('1234');
    // Another client counts its own.
    await store.putUploadChunk('b_other', 0, Buffer.from('1234567890'), {
      ...capped,
      clientId: 'shop-2',
    });
    expect(await store.pendingUploadBytes('shop-2')).toBe(10);

    await store.updateBatch('b_q1', { state: 'importing' }, at(1));
    await expect(store.putUploadChunk('b_q2', 1, Buffer.from('5'), capped)).rejects.toBeInstanceOf(
      UploadQuotaError,
    );
    await store.updateBatch('b_q1', { state: 'imported' }, at(2));
    expect(await store.pendingUploadBytes('shop-1')).toBe(4);
    await store.putUploadChunk('b_q2', 1, Buffer.from('567890'), capped);
    expect(await store.pendingUploadBytes('shop-1')).toBe(10);
    // Without a limit nothing is refused (and the count goes on).
    await store.putUploadChunk('b_q4', 0, Buffer.from('x'), LEASE);
    expect(await store.pendingUploadBytes('shop-1')).toBe(11);
    await store.discardUpload('shop-1', 'b_q4');
    await store.discardUpload('shop-1', 'b_q2');
    expect(await store.pendingUploadBytes('shop-1')).toBe(0);

    // A rewritten chunk counts once, at its new size.
    await store.putUploadChunk('b_q3', 0, Buffer.from('1234567890'), capped);
    await store.putUploadChunk('b_q3', 0, Buffer.from('0987654321'), capped);
    expect(await store.pendingUploadBytes('shop-1')).toBe(10);
    expect(await uploadText('b_q3')).toBe('0987654321');
  });

  it('refuses to hand out an upload whose chunks do not add up to its bytes', async () => {
    await store.putUploadChunk('b_gap', 0, Buffer.from('a,b\n'), LEASE);
    await store.putUploadChunk('b_gap', 2, Buffer.from('3,4\n'), LEASE);
    await store.createBatch({ ...newBatch('shop-1', 'b_gap', 'a,b\n1,2\n3,4\n'), bytes: 12 });
    await expect(collect(store.readUpload('b_gap'))).rejects.toBeInstanceOf(LedgerCorruptionError);
  });
}
