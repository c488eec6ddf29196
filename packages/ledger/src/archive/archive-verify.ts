import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { orderKeyId } from '@rechargeflow/domain';
import { INDEX_DIR, type IndexEntry, PARTIAL_SUFFIX, parseIndexLine } from './archive-format.ts';
import { listDataFiles, readArchiveFile, readMember, readSidecar } from './archive-reader.ts';
import { appendToShards } from './archive-writer.ts';
import { acquireRunLock } from './run-lock.ts';

/** What `verifyArchive` found. `problems` empty: every archived order reads back whole. */
export interface ArchiveReport {
  readonly files: number;
  /** Archived copies read back (lines). */
  readonly copies: number;
  /** Distinct orders among them. */
  readonly orders: number;
  /** Copies of an order already seen at the same version (a run resumed after writing): identical. */
  readonly duplicateCopies: number;
  /** Copies the lookup index does not list (a run stopped before its index append): `reindex`. */
  readonly notIndexed: number;
  /** Files of a run that stopped before committing (their orders stayed in the ledger). */
  readonly partialFiles: number;
  readonly problems: readonly string[];
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64').slice(0, 16);
}

/**
 * Reads every archived order back: each data file decompressed to its end, each line decoded and
 * checked by the ledger's order decoder, each line listed in its sidecar and found again through
 * it (member by member), copies of one order and version identical, and every copy in the lookup
 * index. Holds one short digest per order in memory (~100 bytes each).
 */
export async function verifyArchive(dir: string): Promise<ArchiveReport> {
  const problems: string[] = [];
  const seen = new Map<string, { version: number; digest: string }>();
  const sidecarEntries: IndexEntry[] = [];
  let copies = 0;
  let duplicateCopies = 0;
  const files = await listDataFiles(dir);
  for (const file of files) {
    const inFile = new Map<string, number>();
    let lines = 0;
    try {
      for await (const { order } of readArchiveFile(join(dir, file))) {
        lines += 1;
        const keyId = orderKeyId(order);
        inFile.set(keyId, (inFile.get(keyId) ?? 0) + 1);
        const copy = { version: order.version, digest: digest(order) };
        const earlier = seen.get(keyId);
        if (earlier !== undefined && earlier.version === copy.version) {
          duplicateCopies += 1;
          if (earlier.digest !== copy.digest) {
            problems.push(
              `${file}: order ${order.clientId}/${order.orderId} version ${order.version} differs from an earlier copy`,
            );
          }
        }
        if (earlier === undefined || copy.version >= earlier.version) seen.set(keyId, copy);
      }
    } catch (error) {
      problems.push(`${file}: unreadable after ${lines} orders: ${(error as Error).message}`);
    }
    copies += lines;
    let entries: IndexEntry[];
    try {
      entries = await readSidecar(dir, file);
    } catch (error) {
      problems.push(`${file}: no readable sidecar: ${(error as Error).message}`);
      continue;
    }
    sidecarEntries.push(...entries);
    if (entries.length !== lines) {
      problems.push(`${file}: ${lines} orders but ${entries.length} sidecar entries`);
    }
    for (const entry of entries) {
      const left = inFile.get(entry.keyId) ?? 0;
      if (left === 0) problems.push(`${file}: sidecar lists ${entry.keyId}, which the file does not hold`);
      else inFile.set(entry.keyId, left - 1);
    }
    // Every member the sidecar names decompresses alone and holds the orders it lists.
    const byMember = Map.groupBy(entries, (entry) => entry.offset);
    for (const [, members] of byMember) {
      const first = members[0] as IndexEntry;
      try {
        const held = new Set((await readMember(dir, first)).map(({ order }) => orderKeyId(order)));
        for (const entry of members) {
          if (!held.has(entry.keyId))
            problems.push(`${file}: member at ${first.offset} lacks ${entry.keyId}`);
        }
      } catch (error) {
        problems.push(`${file}: member at ${first.offset} unreadable: ${(error as Error).message}`);
      }
    }
  }
  const indexed = await indexedCopies(dir);
  const notIndexed = sidecarEntries.filter((e) => !indexed.has(`${e.keyId} ${e.file} ${e.offset}`)).length;
  // Left by a run that stopped before its commit: a `.partial` file, or a sidecar renamed before
  // its data file. Their orders stayed in the ledger; the next run removes them.
  const names = await readdir(dir);
  const partialFiles = names.filter(
    (name) =>
      name.endsWith(PARTIAL_SUFFIX) ||
      (name.endsWith('.idx') && !files.includes(name.replace(/\.idx$/, '.jsonl.gz'))),
  ).length;
  return {
    files: files.length,
    copies,
    orders: seen.size,
    duplicateCopies,
    notIndexed,
    partialFiles,
    problems,
  };
}

async function indexedCopies(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  let shards: string[];
  try {
    shards = await readdir(join(dir, INDEX_DIR));
  } catch {
    return found;
  }
  for (const shard of shards) {
    if (!shard.endsWith('.tsv')) continue;
    for (const line of (await readFile(join(dir, INDEX_DIR, shard), 'utf8')).split('\n')) {
      const entry = parseIndexLine(line);
      if (entry !== null) found.add(`${entry.keyId} ${entry.file} ${entry.offset}`);
    }
  }
  return found;
}

/**
 * Rebuilds the lookup index from the sidecars (after a run stopped before its index append, or
 * data files were moved in or out): written aside, then swapped in, holding the run lock (refused
 * while a run writes). Answers the entries indexed.
 */
export async function rebuildIndex(dir: string): Promise<number> {
  const lock = await acquireRunLock(dir);
  if (lock === null) throw new Error(`a retention run is writing to ${dir}; try again when it has finished`);
  try {
    return await rebuild(dir);
  } finally {
    await lock.release();
  }
}

async function rebuild(dir: string): Promise<number> {
  const building = join(dir, `${INDEX_DIR}.rebuilding`);
  await rm(building, { recursive: true, force: true });
  let count = 0;
  for (const file of await listDataFiles(dir)) {
    const entries = await readSidecar(dir, file);
    await appendToShards(building, entries);
    count += entries.length;
  }
  const old = join(dir, `${INDEX_DIR}.old`);
  await rm(old, { recursive: true, force: true });
  await rename(join(dir, INDEX_DIR), old).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(building, join(dir, INDEX_DIR)).catch((error: NodeJS.ErrnoException) => {
    // An archive without files has nothing to index.
    if (error.code !== 'ENOENT') throw error;
  });
  await rm(old, { recursive: true, force: true });
  return count;
}
