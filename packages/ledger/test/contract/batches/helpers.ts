import { createHash } from 'node:crypto';
import type { NewBatch, RowResult } from '../../../src/batches/batch-store.ts';
import { at } from '../fixtures.ts';

/** What the batches slice's parts share. */

export const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

export function newBatch(clientId: string, batchId: string, content: string, seconds = 0): NewBatch {
  return {
    clientId,
    batchId,
    contentHash: sha(content),
    bytes: Buffer.byteLength(content),
    filename: `${batchId}.csv`,
    createdAt: at(seconds),
  };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export const LEASE = { clientId: 'shop-1', leaseMs: 60_000 } as const;

export function rows(first: number, count: number, rejectEvery = 0): RowResult[] {
  return Array.from({ length: count }, (_, i) => {
    const row = first + i;
    const cells = { orderId: `o-${row}`, operator: 'A', number: '9876543210', amount: '10' };
    return rejectEvery > 0 && row % rejectEvery === 0
      ? { row, cells, error: `row ${row}: amount is not allowed` }
      : { row, cells, orderId: `o-${row}` };
  });
}
