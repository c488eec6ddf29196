import { appendFile, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { orderKeyId } from '@rechargeflow/domain';
import {
  type ArchivedOrder,
  encodeIndexLine,
  encodeLine,
  encodeSidecarLine,
  INDEX_DIR,
  type IndexEntry,
  MEMBER_ORDERS,
  PARTIAL_SUFFIX,
  shardFile,
  sidecarName,
} from './archive-format.ts';

const gzipAsync = promisify(gzip);
/** Shard appends in flight at once (the threadpool has 4 threads by default). */
const SHARD_APPENDS = 16;

/**
 * One archive data file being written (archive-format.ts): members are appended as pages of orders
 * arrive, so a run holds one page in memory, never the whole file. Nothing is visible under the
 * final name until `commit` has made the data and its sidecar durable.
 */
export class ArchiveFileWriter {
  readonly dir: string;
  readonly name: string;
  readonly #entries: IndexEntry[] = [];
  #handle: Awaited<ReturnType<typeof open>> | undefined;
  #offset = 0;

  constructor(dir: string, name: string) {
    this.dir = dir;
    this.name = name;
  }

  /** Orders written so far. */
  get count(): number {
    return this.#entries.length;
  }

  /** Appends the orders as gzip members of at most MEMBER_ORDERS lines each. */
  async write(orders: readonly ArchivedOrder[]): Promise<void> {
    if (orders.length === 0) return;
    this.#handle ??= await open(join(this.dir, this.name + PARTIAL_SUFFIX), 'wx');
    for (let start = 0; start < orders.length; start += MEMBER_ORDERS) {
      const member = orders.slice(start, start + MEMBER_ORDERS);
      const bytes = await gzipAsync(member.map(encodeLine).join(''));
      await writeAll(this.#handle, bytes, this.#offset);
      for (const { order } of member) {
        this.#entries.push({
          keyId: orderKeyId(order),
          file: this.name,
          offset: this.#offset,
          length: bytes.length,
          version: order.version,
        });
      }
      this.#offset += bytes.length;
    }
  }

  /**
   * Makes the file durable under its final name: data fsynced, sidecar written and fsynced, the
   * sidecar renamed, then the data (the commit point), then the directory fsynced so the names
   * survive a crash too. Answers the file's index entries.
   */
  async commit(): Promise<readonly IndexEntry[]> {
    const handle = this.#handle;
    if (handle === undefined) throw new Error('nothing was written to this archive file');
    await handle.sync();
    await handle.close();
    this.#handle = undefined;
    const sidecar = sidecarName(this.name);
    const sidecarHandle = await open(join(this.dir, sidecar + PARTIAL_SUFFIX), 'wx');
    try {
      await writeAll(sidecarHandle, Buffer.from(this.#entries.map(encodeSidecarLine).join('')), 0);
      await sidecarHandle.sync();
    } finally {
      await sidecarHandle.close();
    }
    await rename(join(this.dir, sidecar + PARTIAL_SUFFIX), join(this.dir, sidecar));
    await rename(join(this.dir, this.name + PARTIAL_SUFFIX), join(this.dir, this.name));
    await syncDirectory(this.dir);
    return this.#entries;
  }

  /** Drops what was written (a run stopped before committing): the orders stay in the ledger. */
  async discard(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    await unlink(join(this.dir, this.name + PARTIAL_SUFFIX)).catch(() => undefined);
  }
}

async function writeAll(
  handle: Awaited<ReturnType<typeof open>>,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Adds entries to the archive's lookup index (`<dir>/index`), one append per shard touched. Not
 * fsynced: the index is derived from the sidecars (rebuildIndex). Each append starts with a line
 * break, so a line a crash tore stays alone (and is skipped as malformed) without reading the shard.
 */
export async function appendToIndex(dir: string, entries: readonly IndexEntry[]): Promise<void> {
  await appendToShards(join(dir, INDEX_DIR), entries);
}

/** appendToIndex into any index directory (rebuildIndex builds a new one aside). */
export async function appendToShards(indexDir: string, entries: readonly IndexEntry[]): Promise<void> {
  await mkdir(indexDir, { recursive: true });
  const byShard = new Map<string, string>();
  for (const entry of entries) {
    const path = shardFile(indexDir, entry.keyId);
    byShard.set(path, (byShard.get(path) ?? '\n') + encodeIndexLine(entry));
  }
  // A few appends at a time: thousands of shards per file, each a small write.
  const shards = [...byShard];
  for (let start = 0; start < shards.length; start += SHARD_APPENDS) {
    await Promise.all(
      shards.slice(start, start + SHARD_APPENDS).map(([path, text]) => appendFile(path, text)),
    );
  }
}

/**
 * Removes what a run that stopped before its commit left: `.partial` files, and a sidecar renamed
 * before its data file. Their orders stayed in the ledger. Call while holding the run lock.
 */
export async function removePartialFiles(dir: string): Promise<number> {
  const names = await readdir(dir);
  const left = names.filter(
    (name) =>
      name.endsWith(PARTIAL_SUFFIX) ||
      (name.endsWith('.idx') && !names.includes(name.replace(/\.idx$/, '.jsonl.gz'))),
  );
  for (const name of left) await unlink(join(dir, name)).catch(() => undefined);
  return left.length;
}
