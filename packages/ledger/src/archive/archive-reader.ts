import { createReadStream } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import { type OrderKey, orderKeyId } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import {
  type ArchivedOrder,
  decodeLine,
  INDEX_DIR,
  type IndexEntry,
  isDataFile,
  parseIndexLine,
  shardFile,
  sidecarName,
} from './archive-format.ts';

const gunzipAsync = promisify(gunzip);

/** An archived copy found by key, with the file it is in. */
export interface FoundArchivedOrder extends ArchivedOrder {
  readonly file: string;
}

/** The archive's data files, oldest first (names start with the run's day and time). */
export async function listDataFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(isDataFile).sort();
}

/** Every archived copy in one data file, in file order, each decoded and checked. */
export async function* readArchiveFile(path: string): AsyncIterable<ArchivedOrder> {
  const lines = createInterface({
    input: createReadStream(path).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    if (line !== '') yield decodeLine(line);
  }
}

/** A sidecar's entries (malformed lines are left out; verifyArchive counts them). */
export async function readSidecar(dir: string, dataFile: string): Promise<IndexEntry[]> {
  const text = await readFile(join(dir, sidecarName(dataFile)), 'utf8');
  return text
    .split('\n')
    .map((line) => parseIndexLine(line, dataFile))
    .filter((entry): entry is IndexEntry => entry !== null);
}

/** The lookup index's entries of one key (one shard read). */
async function indexEntries(dir: string, keyId: string): Promise<IndexEntry[]> {
  let text: Buffer;
  try {
    text = await readFile(shardFile(join(dir, INDEX_DIR), keyId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: IndexEntry[] = [];
  const needle = `${keyId}\t`;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (at > 0 && text[at - 1] !== 0x0a) continue;
    const end = text.indexOf(0x0a, at);
    const entry = parseIndexLine(text.toString('utf8', at, end === -1 ? text.length : end));
    if (entry !== null) entries.push(entry);
  }
  return entries;
}

/**
 * The orders of one gzip member of a data file; with `mentioning`, only the lines that contain that
 * text are decoded (a lookup decodes the one line it wants, not the member's every order).
 */
export async function readMember(
  dir: string,
  entry: IndexEntry,
  mentioning?: string,
): Promise<ArchivedOrder[]> {
  const handle = await open(join(dir, entry.file), 'r');
  try {
    const bytes = Buffer.alloc(entry.length);
    const { bytesRead } = await handle.read(bytes, 0, entry.length, entry.offset);
    if (bytesRead !== entry.length) {
      throw new LedgerCorruptionError(`archive file ${entry.file} is shorter than its index says`);
    }
    const text = (await gunzipAsync(bytes)).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line !== '' && (mentioning === undefined || line.includes(mentioning)))
      .map(decodeLine);
  } finally {
    await handle.close();
  }
}

/**
 * The archived order with this key, or null: the copy of the highest version (copies of one
 * version are identical; a later file wins a tie). Cost: one index shard read (about 100 bytes per
 * archived copy, 1/4,096 of them) and one member (at most MEMBER_ORDERS lines) decompressed.
 */
export async function findArchived(dir: string, key: OrderKey): Promise<FoundArchivedOrder | null> {
  const keyId = orderKeyId(key);
  const entries = await indexEntries(dir, keyId);
  entries.sort((a, b) => b.version - a.version || b.file.localeCompare(a.file));
  for (const entry of entries) {
    let member: ArchivedOrder[];
    try {
      member = await readMember(dir, entry, JSON.stringify(key.orderId));
    } catch (error) {
      // A data file moved away (cold storage) or damaged: try the next copy.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const found = member.find(
      (archived) => archived.order.clientId === key.clientId && archived.order.orderId === key.orderId,
    );
    if (found) return { ...found, file: entry.file };
  }
  return null;
}
