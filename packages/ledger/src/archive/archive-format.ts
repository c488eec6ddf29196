import { join } from 'node:path';
import type { Order } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { decodeOrder } from '../orders/order-record.ts';

/**
 * The archive's layout on disk (docs/operations.md, "Retention and the archive"), under
 * LEDGER_ARCHIVE_DIR:
 * - `orders-<yyyy-mm-dd>-<run id>-<nnn>.jsonl.gz`: archived orders, one JSON line each
 *   (`{"v":1,"archivedAt":…,"order":{…}}`, the order exactly as the ledger handed it out, history
 *   included), gzip-compressed in members of at most MEMBER_ORDERS lines (concatenated members are
 *   one valid gzip file: `zcat` reads it whole; a lookup decompresses one member only). Written as
 *   `.partial`, fsynced, renamed: a file under its final name is complete.
 * - `orders-<…>-<nnn>.idx`: its sidecar, written and fsynced with it: one line per order,
 *   `keyId offset length version` (the member holding it: byte offset and length in the file).
 * - `index/<kkk>.tsv`: the lookup index, sharded by the first three hex digits of the key id (4,096
 *   shards): `keyId file offset length version` per archived copy. Derived from the sidecars
 *   (appended after the file is committed, not fsynced; `npm run archive -- reindex` rebuilds it).
 * - `retention.lock`: held while a run writes (one run at a time per directory).
 * An order may be archived more than once (a run that stopped between writing and removing): the
 * copy with the highest version is the order; copies of one version are identical.
 */

export const ARCHIVE_FORMAT_VERSION = 1;
/** Lines per gzip member: what a lookup decompresses to find one order. */
export const MEMBER_ORDERS = 200;
export const INDEX_DIR = 'index';
export const LOCK_FILE = 'retention.lock';
export const PARTIAL_SUFFIX = '.partial';

const DATA_FILE = /^orders-(\d{4}-\d{2}-\d{2})-(\d{6}-[0-9a-f]{6})-(\d{3,})\.jsonl\.gz$/;
const KEY_ID = /^[0-9a-f]{32}$/;

/** One archived copy of an order. */
export interface ArchivedOrder {
  /** When the run that wrote it started (the ledger's clock), ISO. */
  readonly archivedAt: string;
  readonly order: Order;
}

/** Where one archived copy is: its data file, and the gzip member holding its line. */
export interface IndexEntry {
  readonly keyId: string;
  /** The data file's name (in the archive directory). */
  readonly file: string;
  readonly offset: number;
  readonly length: number;
  readonly version: number;
}

/** A run's id: its start time (UTC, hhmmss) and 6 random hex digits. */
export function runIdOf(start: Date, random: string): string {
  const time = start.toISOString().slice(11, 19).replaceAll(':', '');
  return `${time}-${random}`;
}

export function dataFileName(start: Date, runId: string, seq: number): string {
  return `orders-${start.toISOString().slice(0, 10)}-${runId}-${String(seq).padStart(3, '0')}.jsonl.gz`;
}

export function isDataFile(name: string): boolean {
  return DATA_FILE.test(name);
}

/** The sidecar of a data file. */
export function sidecarName(dataFile: string): string {
  return dataFile.replace(/\.jsonl\.gz$/, '.idx');
}

/** The lookup index's shard holding a key, in an index directory (`<archive>/index`). */
export function shardFile(indexDir: string, keyId: string): string {
  return join(indexDir, `${keyId.slice(0, 3)}.tsv`);
}

export function encodeLine(archived: ArchivedOrder): string {
  return `${JSON.stringify({ v: ARCHIVE_FORMAT_VERSION, archivedAt: archived.archivedAt, order: archived.order })}\n`;
}

/**
 * One archived line back to an order, checked field by field by the ledger's own decoder (the
 * same checks as an order read from Redis or MongoDB): anything else is corruption.
 */
export function decodeLine(text: string): ArchivedOrder {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new LedgerCorruptionError('archived line is not JSON', { cause });
  }
  const line = parsed as { v?: unknown; archivedAt?: unknown; order?: unknown } | null;
  if (line === null || typeof line !== 'object' || line.v !== ARCHIVE_FORMAT_VERSION) {
    throw new LedgerCorruptionError('archived line has an unknown format');
  }
  if (typeof line.archivedAt !== 'string' || !Number.isFinite(Date.parse(line.archivedAt))) {
    throw new LedgerCorruptionError('archived line has an invalid archivedAt');
  }
  const raw = line.order as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object' || !Array.isArray(raw.history)) {
    throw new LedgerCorruptionError('archived line has no order');
  }
  // The decoder reads the store-clock times as epoch milliseconds (as both stores keep them).
  const { history, pendingSince, nextCheckAt, ...fields } = raw;
  const order = decodeOrder(
    {
      ...fields,
      pendingSinceMs: typeof pendingSince === 'string' ? Date.parse(pendingSince) : pendingSince,
      nextCheckAtMs: typeof nextCheckAt === 'string' ? Date.parse(nextCheckAt) : nextCheckAt,
    },
    history,
  );
  return { archivedAt: line.archivedAt, order };
}

export function encodeSidecarLine(entry: IndexEntry): string {
  return `${entry.keyId}\t${entry.offset}\t${entry.length}\t${entry.version}\n`;
}

export function encodeIndexLine(entry: IndexEntry): string {
  return `${entry.keyId}\t${entry.file}\t${entry.offset}\t${entry.length}\t${entry.version}\n`;
}

/** A sidecar line (`file` given) or a shard line; null for anything malformed (a torn last line). */
export function parseIndexLine(line: string, file?: string): IndexEntry | null {
  const parts = line.split('\t');
  const [keyId, ...rest] = parts;
  const fields = file === undefined ? rest : [file, ...rest];
  if (fields.length !== 4 || keyId === undefined || !KEY_ID.test(keyId)) return null;
  const [name, offset, length, version] = fields as [string, string, string, string];
  if (!isDataFile(name) || ![offset, length, version].every((n) => /^\d{1,15}$/.test(n))) return null;
  return { keyId, file: name, offset: Number(offset), length: Number(length), version: Number(version) };
}
