import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RechargeflowError } from '@rechargeflow/domain';
import type { Batch, BatchStore } from '@rechargeflow/ledger';
import { formatCount } from './csv-text.ts';

/** Largest upload chunk handed to the ledger (the BatchStore contract: ≤ 1 MiB each). */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

export interface UploadLimits {
  /** Largest upload in bytes. */
  readonly maxBytes: number;
  /** Most data rows (lines after the header). */
  readonly maxRows: number;
  /** Longest line in bytes, line break excluded. */
  readonly maxRowBytes: number;
}

export type UploadLimit = 'bytes' | 'rows' | 'row_length' | 'empty';

/**
 * An upload refused while it was being stored: over a limit (HTTP 413, the limit named), or with
 * no data row at all (`empty`, HTTP 400). Nothing is created for it.
 */
export class UploadLimitError extends RechargeflowError {
  readonly limit: UploadLimit;
  /** The limit passed (bytes, rows, or bytes per row); 1 for `empty` (the fewest data rows). */
  readonly max: number;

  constructor(limit: UploadLimit, max: number, message: string) {
    super(message, { retryable: false, context: { limit, max } });
    this.limit = limit;
    this.max = max;
  }
}

export interface StoreUploadInput {
  readonly ledger: Pick<BatchStore, 'putUploadChunk' | 'createBatch'>;
  readonly clientId: string;
  readonly source: AsyncIterable<Buffer | string> | Readable;
  readonly filename?: string | undefined;
  readonly limits: UploadLimits;
  readonly now?: (() => Date) | undefined;
}

export interface StoredUpload {
  /** False: the client uploaded the same bytes before, and `batch` is that batch. */
  readonly created: boolean;
  readonly batch: Batch;
  /** Data rows counted while storing (lines after the header; a quoted line break counts too). */
  readonly rows: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/** Counts lines and enforces the limits as bytes stream past, without keeping them. */
class LineCounter {
  /** Non-blank lines so far, header included. */
  lines = 0;
  #lineBytes = 0;
  #lastByte = -1;
  readonly #limits: UploadLimits;

  constructor(limits: UploadLimits) {
    this.#limits = limits;
  }

  feed(data: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = data.indexOf(NEWLINE, start);
      const end = newline < 0 ? data.length : newline;
      if (end > start) {
        this.#lineBytes += end - start;
        this.#lastByte = data[end - 1] as number;
      }
      if (newline < 0) {
        // A CR may still end this line (CRLF), hence the one byte of slack before refusing.
        if (this.#lineBytes > this.#limits.maxRowBytes + 1) this.#tooLong();
        return;
      }
      this.#endLine();
      start = newline + 1;
    }
  }

  /** The last line may have no line break. */
  finish(): void {
    this.#endLine();
  }

  #endLine(): void {
    const content = this.#lineBytes - (this.#lastByte === CR && this.#lineBytes > 0 ? 1 : 0);
    if (content > this.#limits.maxRowBytes) this.#tooLong();
    if (content > 0) {
      this.lines += 1;
      if (this.lines - 1 > this.#limits.maxRows) {
        throw new UploadLimitError(
          'rows',
          this.#limits.maxRows,
          `the file has more than ${formatCount(this.#limits.maxRows)} rows, the limit for one upload; split it into smaller files`,
        );
      }
    }
    this.#lineBytes = 0;
    this.#lastByte = -1;
  }

  #tooLong(): never {
    throw new UploadLimitError(
      'row_length',
      this.#limits.maxRowBytes,
      `line ${formatCount(this.lines + 1)} of the file is longer than ${formatCount(this.#limits.maxRowBytes)} bytes, the limit for one row`,
    );
  }
}

/** `b_` + 16 random URL-safe characters (96 bits): opaque, unguessable, matches the job schema. */
export function newBatchId(): string {
  return `b_${randomBytes(12).toString('base64url')}`;
}

/**
 * Streams an upload into the ledger's upload chunks (≤ 1 MiB each) while hashing it and counting
 * its rows, and stops with an UploadLimitError the moment a limit is passed, so a huge or endless
 * body costs at most one chunk of memory. Only then is the batch created (deduplicated by the
 * content hash: the same file again answers the existing batch, `created: false`).
 *
 * The chunks are written under a fresh batch id before `createBatch`, so that a batch never exists
 * without its bytes. When the upload is refused part-way, or turns out to be a repeat, the chunks
 * already written belong to no batch: the BatchStore contract has no way to delete them, so they
 * stay as garbage (at most the upload's size) until the store offers one.
 */
export async function storeUpload(input: StoreUploadInput): Promise<StoredUpload> {
  const { ledger, limits } = input;
  const batchId = newBatchId();
  const hash = createHash('sha256');
  const counter = new LineCounter(limits);
  let bytes = 0;
  let index = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await ledger.putUploadChunk(batchId, index, data);
    index += 1;
  };

  for await (const piece of input.source as AsyncIterable<Buffer | string>) {
    let data = typeof piece === 'string' ? Buffer.from(piece) : piece;
    if (data.length === 0) continue;
    bytes += data.length;
    if (bytes > limits.maxBytes) {
      throw new UploadLimitError(
        'bytes',
        limits.maxBytes,
        `the file is larger than ${formatCount(limits.maxBytes)} bytes, the limit for one upload; split it into smaller files`,
      );
    }
    hash.update(data);
    counter.feed(data);
    while (data.length > 0) {
      const room = UPLOAD_CHUNK_BYTES - pendingBytes;
      const part = data.length <= room ? data : data.subarray(0, room);
      pending.push(part);
      pendingBytes += part.length;
      data = data.subarray(part.length);
      if (pendingBytes === UPLOAD_CHUNK_BYTES) await flush();
    }
  }
  counter.finish();
  if (counter.lines < 2) {
    throw new UploadLimitError(
      'empty',
      1,
      counter.lines === 0
        ? 'the file is empty: send a header row (orderId,operator,circle,number,amount,value1,value2) and one row per recharge'
        : 'the file has a header row but no rows below it: add one row per recharge',
    );
  }
  await flush();
  const { created, batch } = await ledger.createBatch({
    clientId: input.clientId,
    batchId,
    contentHash: hash.digest('hex'),
    bytes,
    filename: input.filename,
    createdAt: (input.now?.() ?? new Date()).toISOString(),
  });
  return { created, batch, rows: counter.lines - 1 };
}
