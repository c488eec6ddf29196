import { appendFile, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Order, orderKeyId, paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import {
  dataFileName,
  decodeLine,
  encodeLine,
  INDEX_DIR,
  LOCK_FILE,
  MEMBER_ORDERS,
  shardFile,
} from './archive-format.ts';
import { findArchived, listDataFiles, readArchiveFile, readSidecar } from './archive-reader.ts';
import { rebuildIndex, verifyArchive } from './archive-verify.ts';
import { ArchiveFileWriter, appendToIndex, removePartialFiles } from './archive-writer.ts';
import { acquireRunLock } from './run-lock.ts';

const AT = '2026-03-01T10:00:00.000Z';
const START = new Date('2026-06-01T12:34:56.000Z');

function order(orderId: string, version = 3, extra: Partial<Order> = {}): Order {
  const key = { clientId: 'shop-1', orderId };
  const request = { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) };
  return {
    ...key,
    providerOrderId: providerOrderId(key),
    provider: 'a1topup',
    route: ['a1topup'],
    request,
    fingerprint: requestFingerprint(request),
    state: 'success',
    inFlight: false,
    attempts: 1,
    statusChecks: 0,
    providerTxId: 'T1',
    createdAt: AT,
    updatedAt: AT,
    version,
    history: [
      { at: AT, from: null, to: 'queued', source: 'api' },
      { at: AT, from: 'queued', to: 'processing', source: 'worker', note: 'sent to a1topup' },
      { at: AT, from: 'processing', to: 'success', source: 'worker', providerStatus: 'Success' },
    ],
    ...extra,
  };
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-archive-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function archive(orders: readonly Order[], seq = 1, runId = '123456-abcdef'): Promise<string> {
  const name = dataFileName(START, runId, seq);
  const writer = new ArchiveFileWriter(dir, name);
  await writer.write(orders.map((each) => ({ archivedAt: START.toISOString(), order: each })));
  await appendToIndex(dir, await writer.commit());
  return name;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('archive lines', () => {
  it('read back exactly the order written, every optional field included', () => {
    const full = order('full', 7, {
      state: 'reversed',
      pendingSince: AT,
      nextCheckAt: '2026-03-01T10:05:00.000Z',
      statusChecks: 2,
      reversal: { amount: paise(1000), at: AT, providerRef: 'OP1', callbackId: 'c'.repeat(64) },
      batchId: 'b_x',
      request: {
        operator: 'TELGOO5',
        number: '5551234567',
        amount: paise(500),
        telgoo5: {
          enrollmentId: 'E1',
          topupType: 'TOPUP',
          billingState: 'CA',
          billingCity: 'LA',
          planId: '7',
        },
      },
    });
    expect(decodeLine(encodeLine({ archivedAt: AT, order: full }))).toStrictEqual({
      archivedAt: AT,
      order: full,
    });
  });

  it('refuse anything else as corruption', () => {
    expect(() => decodeLine('not json')).toThrow(LedgerCorruptionError);
    expect(() => decodeLine(JSON.stringify({ v: 2, archivedAt: AT, order: order('a') }))).toThrow(/format/);
    const broken = { ...order('a'), state: 'lost' };
    expect(() => decodeLine(JSON.stringify({ v: 1, archivedAt: AT, order: broken }))).toThrow(
      LedgerCorruptionError,
    );
  });
});

describe('archive files', () => {
  it('are gzip members a plain gunzip reads whole, with a sidecar and index entry per order', async () => {
    const orders = Array.from({ length: MEMBER_ORDERS * 2 + 7 }, (_, i) => order(`o-${i}`));
    const name = await archive(orders);
    expect(await listDataFiles(dir)).toEqual([name]);
    expect(name).toBe('orders-2026-06-01-123456-abcdef-001.jsonl.gz');
    const whole = gunzipSync(await readFile(join(dir, name))).toString('utf8');
    expect(whole.trimEnd().split('\n')).toHaveLength(orders.length);
    expect((await collect(readArchiveFile(join(dir, name)))).map((a) => a.order)).toStrictEqual(orders);
    const sidecar = await readSidecar(dir, name);
    expect(sidecar).toHaveLength(orders.length);
    expect(new Set(sidecar.map((e) => e.offset)).size).toBe(3);
    for (const each of [orders[0]!, orders[MEMBER_ORDERS + 1]!, orders.at(-1)!]) {
      expect(await findArchived(dir, each)).toStrictEqual({
        archivedAt: START.toISOString(),
        order: each,
        file: name,
      });
    }
    expect(await findArchived(dir, { clientId: 'shop-1', orderId: 'never' })).toBeNull();
    expect(await findArchived(dir, { clientId: 'shop-2', orderId: 'o-1' })).toBeNull();
    expect(await verifyArchive(dir)).toStrictEqual({
      files: 1,
      copies: orders.length,
      orders: orders.length,
      duplicateCopies: 0,
      notIndexed: 0,
      partialFiles: 0,
      problems: [],
    });
  });

  it('show nothing before the commit, and a stopped run leaves only what the next run removes', async () => {
    const writer = new ArchiveFileWriter(dir, dataFileName(START, '123456-abcdef', 1));
    await writer.write([{ archivedAt: AT, order: order('a') }]);
    expect(await listDataFiles(dir)).toEqual([]);
    expect((await verifyArchive(dir)).partialFiles).toBe(1);
    // A sidecar renamed before its data file (a crash between the two renames).
    await writeFile(join(dir, 'orders-2026-06-01-123456-abcdef-002.idx'), '');
    expect((await verifyArchive(dir)).partialFiles).toBe(2);
    expect(await removePartialFiles(dir)).toBe(2);
    expect(await readdir(dir)).toEqual([]);
    await writer.discard();
  });

  it('keep the highest version of an order archived more than once, and copies of one version must agree', async () => {
    const first = await archive([order('a', 3), order('b', 3)], 1);
    const second = await archive([order('a', 3)], 2);
    const newer = order('b', 5, { state: 'reversed' });
    await archive([newer], 3);
    expect((await findArchived(dir, order('a')))?.file).toBe(second);
    expect((await findArchived(dir, newer))?.order).toStrictEqual(newer);
    const report = await verifyArchive(dir);
    expect(report).toMatchObject({ files: 3, copies: 4, orders: 2, duplicateCopies: 1, problems: [] });
    expect(first).not.toBe(second);
    // Two different copies under one version: named.
    await archive([order('a', 3, { providerTxId: 'T2' })], 4);
    expect((await verifyArchive(dir)).problems).toEqual([
      expect.stringMatching(/order shop-1\/a version 3 differs from an earlier copy/),
    ]);
  });

  it('lookups survive a torn index line, and reindex rebuilds the index from the sidecars', async () => {
    const a = order('a');
    const shard = shardFile(join(dir, INDEX_DIR), orderKeyId(a));
    await archive([order('z')]);
    await appendFile(shard, `${orderKeyId(a)}\torders-2026`);
    await archive([a], 2);
    expect((await findArchived(dir, a))?.order).toStrictEqual(a);
    await rm(join(dir, INDEX_DIR), { recursive: true });
    expect(await findArchived(dir, a)).toBeNull();
    expect((await verifyArchive(dir)).notIndexed).toBe(2);
    expect(await rebuildIndex(dir)).toBe(2);
    expect((await findArchived(dir, a))?.order).toStrictEqual(a);
    expect((await verifyArchive(dir)).notIndexed).toBe(0);
  });

  it('verify names a damaged file', async () => {
    const name = await archive([order('a'), order('b')]);
    const bytes = await readFile(join(dir, name));
    await writeFile(join(dir, name), bytes.subarray(0, bytes.length - 9));
    const report = await verifyArchive(dir);
    expect(report.problems.some((p) => p.startsWith(`${name}: unreadable`))).toBe(true);
  });
});

describe('the run lock', () => {
  it('is held by one run at a time, and taken over from a run that died', async () => {
    const lock = await acquireRunLock(dir);
    expect(lock).not.toBeNull();
    expect(await acquireRunLock(dir)).toBeNull();
    await lock?.release();
    const again = await acquireRunLock(dir);
    expect(again).not.toBeNull();
    // A lock nobody refreshed for longer than the stale limit.
    const old = new Date(Date.now() - 60 * 60_000);
    await utimes(join(dir, LOCK_FILE), old, old);
    const taken = await acquireRunLock(dir);
    expect(taken).not.toBeNull();
    await taken?.release();
  });
});
