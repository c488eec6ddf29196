import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Batch, type BatchStore, UploadQuotaError } from '@rechargeflow/ledger';
import { BATCH_COLUMNS } from './columns.ts';
import { formatCount } from './csv-text.ts';
import { UploadLimitError } from './upload-limit-error.ts';

/** Largest upload chunk handed to the ledger (the BatchStore contract: ≤ 1 MiB each). */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * How long an upload's chunks live after its latest chunk unless its batch is created (default
 * 10 minutes): the most a crashed or abandoned upload can hold on to, and the longest an upload may
 * stall between two chunks (1 MiB each).
 */
export const DEFAULT_UPLOAD_LEASE_MS = 10 * 60_000;

export interface UploadLimits {
  /** Largest upload in bytes. */
  readonly maxBytes: number;
  /** Most data rows (lines after the header). */
  readonly maxRows: number;
  /** Longest line in bytes, line break excluded. */
  readonly maxRowBytes: number;
  /**
   * Most bytes one client may have stored but not yet imported (its uploads in progress and its
   * batches `stored` or `importing`), this upload included. Absent: no such limit.
   */
  readonly maxPendingBytes?: number | undefined;
}

export interface StoreUploadInput {
  readonly ledger: Pick<BatchStore, 'putUploadChunk' | 'createBatch' | 'discardUpload'>;
  readonly clientId: string;
  readonly source: AsyncIterable<Buffer | string> | Readable;
  readonly filename?: string | undefined;
  readonly limits: UploadLimits;
  /** The upload's lease in ms (default DEFAULT_UPLOAD_LEASE_MS). */
  readonly leaseMs?: number | undefined;
  readonly now?: (() => Date) | undefined;
  /** Told when what a refused or broken upload had stored could not be removed (its lease will). */
  readonly onDiscardFailed?: ((error: unknown) => void) | undefined;
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

/** The client's bytes not yet imported would pass the limit: said with the figures. */
function pendingBytesError(error: UploadQuotaError): UploadLimitError {
  return new UploadLimitError(
    'pending_bytes',
    error.maxPendingBytes,
    `you have ${formatCount(error.pendingBytes)} bytes of uploads stored but not yet imported; this file would take you past ${formatCount(error.maxPendingBytes)} bytes, the limit per client — wait for a batch to finish importing, then send it again`,
  );
}

/**
 * Streams an upload into the ledger's upload chunks (≤ 1 MiB each) while hashing it and counting
 * its rows, and stops with an UploadLimitError the moment a limit is passed, so a huge or endless
 * body costs at most one chunk of memory. Only then is the batch created (deduplicated by the
 * content hash: the same file again answers the existing batch, `created: false`).
 *
 * The chunks are written under a fresh batch id before `createBatch`, so that a batch never exists
 * without its bytes, and under a lease (`leaseMs`, renewed by every chunk), so that they never
 * outlive a process that dies mid-upload. An upload refused part-way (a limit, an empty file, the
 * client's bytes not yet imported), or broken off (the client went away, the body is not readable)
 * is discarded at once, before the error goes on; one that turns out to be a repeat is removed by
 * `createBatch` itself. If `createBatch` fails, nothing is discarded: it may have happened, and an
 * upload it did not commit lapses with its lease.
 */
export async function storeUpload(input: StoreUploadInput): Promise<StoredUpload> {
  const { ledger, limits } = input;
  const batchId = newBatchId();
  const lease = {
    clientId: input.clientId,
    leaseMs: input.leaseMs ?? DEFAULT_UPLOAD_LEASE_MS,
    maxPendingBytes: limits.maxPendingBytes,
  };
  let bytes = 0;
  let rows = 0;
  let contentHash: string;
  try {
    ({ bytes, rows, contentHash } = await storeChunks(input, batchId, lease));
  } catch (error) {
    try {
      await ledger.discardUpload(input.clientId, batchId);
    } catch (discardError) {
      input.onDiscardFailed?.(discardError);
    }
    throw error instanceof UploadQuotaError ? pendingBytesError(error) : error;
  }
  const { created, batch } = await ledger.createBatch({
    clientId: input.clientId,
    batchId,
    contentHash,
    bytes,
    filename: input.filename,
    createdAt: (input.now?.() ?? new Date()).toISOString(),
  });
  return { created, batch, rows };
}

/** Writes the upload's chunks, checking the limits on the way; answers its size, rows and hash. */
async function storeChunks(
  input: StoreUploadInput,
  batchId: string,
  lease: Parameters<BatchStore['putUploadChunk']>[3],
): Promise<{ bytes: number; rows: number; contentHash: string }> {
  const { ledger, limits } = input;
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
    await ledger.putUploadChunk(batchId, index, data, lease);
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
        ? `the file is empty: send a header row (${BATCH_COLUMNS.join(',')}) and one row per recharge`
        : 'the file has a header row but no rows below it: add one row per recharge',
    );
  }
  await flush();
  return { bytes, rows: counter.lines - 1, contentHash: hash.digest('hex') };
}
