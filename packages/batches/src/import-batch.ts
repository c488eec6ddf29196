import { pipeline, Readable } from 'node:stream';
import {
  type Order,
  type OrderKey,
  ProviderNotEnabledError,
  providerOrderId,
  RechargeflowError,
  type RechargeRequest,
  requestFingerprint,
} from '@rechargeflow/domain';
import type { BatchOrder, BatchOrderResult, BatchStore, OrderStore, RowResult } from '@rechargeflow/ledger';
import { DEFAULT_PROVIDER, type OrderLog } from '@rechargeflow/orders';
import { rechargeJobId } from '@rechargeflow/queue';
import { type CsvError, type Options as CsvOptions, parse } from 'csv-parse';
import { parseHeader } from './columns.ts';
import { formatCount } from './csv-text.ts';
import { OrderIdSet } from './order-id-set.ts';
import {
  addRechargeJobs,
  DEFAULT_RELEASE_BACKLOG,
  queuesHaveRoom,
  type RechargeJob,
  type RechargeJobSink,
} from './release-batch.ts';
import { describeIssues, isBlankRecord, RowRules, type RowVerdict } from './row-rules.ts';
import { countRowsFrom, type Utf8Break, untilNotUtf8 } from './upload-lines.ts';

/**
 * The ledger as an import uses it: its batches (releaseRows for the chunks whose jobs it added), and
 * getOrder for rows no route is enabled for.
 */
export type ImportLedger = BatchStore & Pick<OrderStore, 'getOrder'>;

export interface ImportDeps {
  readonly ledger: ImportLedger;
  readonly producer: RechargeJobSink;
  readonly log: OrderLog;
  /**
   * The providers to try for a new order, in order (the routing table). Default: A1Topup only.
   * ProviderNotEnabledError (no provider of the route enabled here) rejects the row with its reason,
   * unless the row's order exists already: it is answered by that order, as the API does.
   */
  readonly routeFor?: ((request: RechargeRequest) => readonly string[]) | undefined;
  readonly now?: (() => Date) | undefined;
  /** Told once per committed chunk (a chunk redone after a crash is not told twice): for metrics. */
  readonly onRowsCommitted?: ((accepted: number, rejected: number) => void) | undefined;
  /** Told the rows of each chunk whose jobs it added and counted as released: for metrics. */
  readonly onRowsReleased?: ((rows: number) => void) | undefined;
}

export interface ImportSettings {
  /** Rows validated and written per ledger round trip (default 1,000). */
  readonly chunkRows?: number | undefined;
  /**
   * Longest row in bytes (default 65,536, the most the API allows). The upload already refused
   * longer lines; this catches a row made long by quoted line breaks.
   */
  readonly maxRowBytes?: number | undefined;
  /**
   * Stop after writing this many chunks in this run, leaving the batch `importing` exactly as a
   * crash would (tests, and operators who want to import in slices). Default: no limit.
   */
  readonly maxChunks?: number | undefined;
  /**
   * The import adds a chunk's recharge jobs itself only while one of their provider queues holds
   * fewer jobs waiting than this (default DEFAULT_RELEASE_BACKLOG; queuesHaveRoom); from the first
   * chunk that finds them full, the rest of the batch's orders wait in the ledger for its release job.
   */
  readonly releaseBacklog?: number | undefined;
  /**
   * Chunks being written at once (default 4): while some chunks' orders, jobs and results are on
   * their way to Redis, the next is parsed, checked and sent, so neither side waits for the other
   * (1M rows: 108 s at 2, 72–88 s at 4 on the benchmark machine, docs/benchmarks.md). Results are
   * still committed strictly in order. 1: one chunk at a time.
   */
  readonly pipelineDepth?: number | undefined;
}

export type ImportOutcome =
  /** Every row is an order or an explained error. */
  | { readonly kind: 'imported'; readonly rows: number; readonly accepted: number; readonly rejected: number }
  /**
   * The file could not be read on (a wrong header, a quote never closed, bytes that are not UTF-8):
   * `error` says why, `atLine` where (when known), `notRead` counts the input rows never read.
   */
  | {
      readonly kind: 'stopped';
      readonly rows: number;
      readonly error: string;
      readonly atLine?: number | undefined;
      readonly notRead: number;
    }
  /** Nothing to do: the batch was imported already (or is `done`). */
  | { readonly kind: 'already'; readonly state: string }
  /** Another run committed rows this run was about to commit: it carries on, this one stops. */
  | { readonly kind: 'superseded'; readonly rows: number }
  /** `maxChunks` reached; the batch stays `importing` and a later run resumes it. */
  | { readonly kind: 'paused'; readonly rows: number }
  | { readonly kind: 'not_found' };

export const DEFAULT_CHUNK_ROWS = 1_000;
export const DEFAULT_MAX_ROW_BYTES = 65_536;
export const DEFAULT_PIPELINE_DEPTH = 4;

interface PendingRow {
  readonly row: number;
  readonly verdict: RowVerdict;
}

const nowIso = (deps: ImportDeps): string => (deps.now?.() ?? new Date()).toISOString();

/** A record as the parser hands it on: its cells, and where it ends in the file (bytes). */
interface ParsedRecord {
  readonly cells: string[];
  readonly end: number;
}

/** csv-parse's own words for the errors that stop reading, put plainly (`row` 0: the header). */
function describeParseError(
  error: CsvError,
  row: number,
  maxRecordBytes: number,
  notUtf8: Utf8Break | undefined,
): string {
  const where = row === 0 ? 'the header row' : `row ${formatCount(row)}`;
  if (
    notUtf8 !== undefined &&
    (error.code === 'CSV_QUOTE_NOT_CLOSED' || error.code === 'CSV_MAX_RECORD_SIZE')
  ) {
    // Reading ended where the text did: whether the quote closes after that cannot be known.
    return `${where}: a cell starts with a double quote (") that is not closed before line ${formatCount(notUtf8.line)}, and line ${formatCount(notUtf8.line)} is not UTF-8 text, so the rest of the file cannot be read; save the file as CSV UTF-8 and check the quotes`;
  }
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `${where}: a cell starts with a double quote (") that is never closed, so the rest of the file cannot be read; close the quote or remove it`;
    case 'CSV_MAX_RECORD_SIZE':
      return `${where}: the row goes on for more than ${formatCount(maxRecordBytes)} bytes, usually because a double quote (") is never closed; close the quote or remove it`;
    default:
      return `${where}: the file cannot be read as CSV from here on (${error.message})`;
  }
}

/** The header record holds a line break: a quote in it closed only on a later line. */
const HEADER_SPANS_LINES =
  'the header row: a cell starts with a double quote (") that is only closed on a later line, so the header swallows the rows below it and the file cannot be read; close the quote or remove it';

/** Bytes that are not UTF-8 where row `row` (0: the header) would start. */
function describeNotUtf8(where: Utf8Break, row: number): string {
  const what = row === 0 ? 'the header row' : `row ${formatCount(row)}`;
  return `${what}: line ${formatCount(where.line)} of the file is not UTF-8 text (it holds bytes that are no UTF-8 character), so the rest of the file cannot be read; save the file as CSV UTF-8 and upload it again`;
}

/** Longest record csv-parse builds before it gives up on it (a quote that swallows the rest). */
const maxRecordBytesFor = (maxRowBytes: number): number => Math.max(4 * maxRowBytes, 65_536);

interface RecordParserOptions {
  readonly maxRecordBytes: number;
  /** Records csv-parse may hold parsed ahead of the reader. */
  readonly readAhead?: number | undefined;
  /** The first error that skips a record, with how many records came before it. */
  readonly onSkip?: ((error: CsvError, recordsBefore: number) => void) | undefined;
  readonly onNotUtf8?: ((where: Utf8Break) => void) | undefined;
}

/**
 * The stored upload parsed: its lines up to the first one that is not UTF-8 text (untilNotUtf8),
 * through csv-parse, each record handed on with where it ends in the file (bytes, BOM included, as
 * stored): the place to count the rows not read from, should reading stop after it. Errors of the
 * source surface through the iterator.
 */
function recordParser(
  source: AsyncIterable<Buffer>,
  options: RecordParserOptions,
): AsyncIterable<ParsedRecord> {
  const csvOptions: CsvOptions & { readableHighWaterMark?: number } = {
    bom: true,
    encoding: 'utf8',
    // Cell counts and stray quotes are row errors with our own words, not a reason to stop.
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    max_record_size: options.maxRecordBytes,
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error !== undefined) options.onSkip?.(error, parser.info.records);
      return undefined;
    },
    // (csv-parse types on_record as answering a record of the same shape; any value is passed on.)
    on_record: ((cells: string[]): ParsedRecord => ({ cells, end: parser.info.bytes })) as unknown as (
      record: string[],
    ) => string[],
    ...(options.readAhead === undefined ? {} : { readableHighWaterMark: options.readAhead }),
  };
  const parser = parse(csvOptions);
  const text = untilNotUtf8(source, (where) => options.onNotUtf8?.(where));
  pipeline(Readable.from(text), parser, () => {
    // Errors of the source surface through the parser's iterator.
  });
  return parser;
}

/**
 * Where data row `rows` ends in the stored file (0: the header), read again from its start; undefined
 * when the file cannot be read that far. A source that breaks off counts as ending there, so the
 * records before the break are all seen.
 */
async function endOfRow(
  source: AsyncIterable<Buffer>,
  rows: number,
  maxRecordBytes: number,
): Promise<number | undefined> {
  async function* untilBroken(): AsyncGenerator<Buffer> {
    try {
      yield* source;
    } catch {
      // Ends the text here: what came before is parsed.
    }
  }
  let row = -1;
  try {
    for await (const { cells, end } of recordParser(untilBroken(), { maxRecordBytes })) {
      if (row >= 0 && isBlankRecord(cells)) continue;
      row += 1;
      if (row === rows) return end;
    }
  } catch {
    // Unreadable before that row: not counted.
  }
  return undefined;
}

/**
 * Imports one stored upload: streams it through csv-parse, checks the header and then every row
 * with the same rules as a single order, and turns the valid rows into orders chunk by chunk —
 * written to the ledger first (`createBatchOrders`), then, while the provider queues are short,
 * their recharge jobs added (`enqueueBulk`), then the chunk's row results committed (`commitRows`),
 * which is the checkpoint, and its rows counted as released (`releaseRows`). Once a queue is full
 * the rest of the batch's orders wait in the ledger, `queued`, for the batch's release job
 * (release-batch.ts), queued by the caller after the import. A run that crashes anywhere redoes at
 * most the uncommitted chunk: the ledger hands back the orders it already made (same fingerprint:
 * linked, never made twice) and BullMQ ignores job ids it has. Memory stays flat whatever the file size: `pipelineDepth` chunks being written,
 * one being filled and one parsed ahead, plus a compact set of the file's order ids (12 bytes per
 * slot) to refuse repeats.
 *
 * An order id the client used before with the same details is linked to the batch and counts as
 * accepted; with different details the row is refused. That holds whatever the routing table says
 * now (the existing order keeps its own route): only a row for a new order is refused because no
 * provider of its route is enabled here. A wrong header stops the whole batch with
 * an `error` (stored `imported`, shown `stopped`, no rows read), as does a file that stops being
 * readable part-way — a quote never closed, a line that is not UTF-8 text — (the rows before it are
 * kept). Either way the batch records the line where reading stopped and how many input rows were
 * not read, so results.csv still has one line per input row.
 */
export async function importBatch(
  deps: ImportDeps,
  key: { readonly clientId: string; readonly batchId: string },
  settings: ImportSettings = {},
): Promise<ImportOutcome> {
  const { ledger, log } = deps;
  const { clientId, batchId } = key;
  const chunkRows = Math.max(1, Math.floor(settings.chunkRows ?? DEFAULT_CHUNK_ROWS));
  const maxRowBytes = settings.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  const maxChunks = settings.maxChunks ?? Number.POSITIVE_INFINITY;
  const depth = Math.max(1, Math.floor(settings.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH));

  const batch = await ledger.getBatch(clientId, batchId);
  if (batch === null) {
    log.warn({ clientId, batchId }, 'batch import: no such batch; nothing to import');
    return { kind: 'not_found' };
  }
  if (batch.state === 'imported' || batch.state === 'done') return { kind: 'already', state: batch.state };
  if (batch.state === 'stored') await ledger.updateBatch(batchId, { state: 'importing' }, nowIso(deps));
  // Rows up to here have their results stored: a restarted import never creates or counts them again.
  const committed = batch.rowsCommitted;

  /**
   * Ends the import early with `error`. Every input row after the last one read still gets a line
   * in results.csv: the rows from byte `from` on (where the first record not read starts) are
   * counted from the stored file's lines, since a parser cannot find rows past a broken quote (see
   * countRowsFrom). `headerUnread`: the line at `from` is the header, not a row. `atLine`: where
   * reading stopped, when that is not the first row not read (a wrong header is line 1).
   */
  const stop = async (
    rows: number,
    error: string,
    where: {
      readonly from?: number | undefined;
      readonly headerUnread?: boolean;
      readonly atLine?: number | undefined;
    } = {},
  ): Promise<ImportOutcome> => {
    let atLine = where.atLine;
    let notRead = 0;
    if (where.from !== undefined) {
      const after = await countRowsFrom(ledger.readUpload(batchId), where.from);
      notRead = Math.max(0, after.rows - (where.headerUnread && after.rows > 0 ? 1 : 0));
      atLine ??= after.firstRowLine ?? after.lineAt;
      if (after.unreadable !== undefined) {
        log.warn(
          { clientId, batchId, err: after.unreadable },
          'batch import: the rows not read could not all be counted',
        );
      }
    }
    await ledger.updateBatch(
      batchId,
      { state: 'imported', rowsRead: rows, error, stoppedAtLine: atLine, rowsNotRead: notRead },
      nowIso(deps),
    );
    log.warn({ clientId, batchId, rows, atLine, notRead, error }, 'batch import stopped');
    return { kind: 'stopped', rows, error, atLine, notRead };
  };

  const maxRecordBytes = maxRecordBytesFor(maxRowBytes);
  // What stops reading part-way: a quote never closed (at the end, or once a record outgrows
  // maxRecordBytes). csv-parse would fail the stream, which drops the records it has parsed but we
  // have not read yet; so it reports through on_skip instead, with how many records came before,
  // and the loop stops exactly there.
  let problem: { readonly error: CsvError; readonly recordsBefore: number } | undefined;
  // Where the file stops being UTF-8 text: the parser is given the lines before it only.
  let notUtf8: Utf8Break | undefined;
  const parser = recordParser(ledger.readUpload(batchId), {
    maxRecordBytes,
    // Lets csv-parse read one chunk ahead while the previous one is being written.
    readAhead: chunkRows,
    onSkip: (error, recordsBefore) => {
      problem ??= { error, recordsBefore };
    },
    onNotUtf8: (where) => {
      notUtf8 = where;
    },
  });

  let rules: RowRules | undefined;
  let records = 0;
  let row = 0;
  /** Where the records read so far end in the file (bytes). */
  let readTo = 0;
  let chunk: PendingRow[] = [];
  // The import adds its chunks' jobs itself while the queues have room, as long as every row before
  // is released (a resumed import whose earlier rows wait for the release job leaves the rest to it).
  const writer = new ChunkWriter(deps, clientId, batchId, depth, {
    backlog: settings.releaseBacklog ?? DEFAULT_RELEASE_BACKLOG,
    releasing: batch.rowsReleased === batch.rowsCommitted,
  });

  const flush = async (): Promise<boolean> => {
    if (chunk.length === 0) return true;
    const rows = chunk;
    chunk = [];
    return writer.push(rows);
  };

  try {
    for await (const { cells: record, end } of parser) {
      if (problem !== undefined && records >= problem.recordsBefore) break;
      records += 1;
      readTo = end;
      if (rules === undefined) {
        // A header spanning lines is a quote that swallowed the rows below it, not column names.
        const header = record.some((cell) => /[\r\n]/.test(cell))
          ? { ok: false as const, error: HEADER_SPANS_LINES }
          : parseHeader(record);
        // The header is line 1; every line below it is a row not read (those a quote swallowed too).
        if (!header.ok) return await stop(0, header.error, { from: 0, headerUnread: true, atLine: 1 });
        rules = new RowRules(header.columns, new OrderIdSet(), {
          maxRowBytes,
          now: deps.now?.() ?? new Date(),
        });
        continue;
      }
      if (isBlankRecord(record)) continue;
      row += 1;
      if (row <= committed) {
        rules.noteOrderId(record, row);
        continue;
      }
      chunk.push({ row, verdict: rules.assess(record, row) });
      if (chunk.length >= chunkRows) {
        if (!(await flush())) return superseded(deps, key, row);
        if (writer.launched >= maxChunks) {
          if (!(await writer.drain())) return superseded(deps, key, row);
          return { kind: 'paused', rows: row };
        }
      }
    }
    if (!(await flush()) || !(await writer.drain())) return superseded(deps, key, row);
  } catch (error) {
    // Redis away, a routing table refused by the ledger: the job's retry resumes after the last
    // commit. An error that says retrying cannot help (a stored upload missing a chunk, an order id
    // colliding with another client's) stops the batch with the reason instead of retrying forever.
    if (!(error instanceof RechargeflowError) || error.retryable) throw error;
    await writer.settle();
    const rows = (await ledger.getBatch(clientId, batchId))?.rowsCommitted ?? 0;
    // Rows after the last commit were not read, as far as the batch goes (their results were never
    // stored): counted from where that row ends, found by reading the file again up to it.
    return stop(rows, `the import stopped after row ${formatCount(rows)}: ${error.message}`, {
      from: await endOfRow(ledger.readUpload(batchId), rows, maxRecordBytes),
    });
  } finally {
    // However this run ends, no write of it is still under way when it returns (a retry starts clean).
    await writer.settle();
  }
  const headerUnread = rules === undefined;
  if (problem !== undefined) {
    // The rows before the unreadable one are kept; the reason is the batch's error, and every row
    // from the unreadable one on is counted as not read.
    const error = describeParseError(problem.error, headerUnread ? 0 : row + 1, maxRecordBytes, notUtf8);
    return stop(row, error, { from: readTo, headerUnread });
  }
  if (notUtf8 !== undefined) {
    const error = describeNotUtf8(notUtf8, headerUnread ? 0 : row + 1);
    return stop(row, error, { from: readTo, headerUnread });
  }
  if (rules === undefined)
    return stop(0, 'the file is empty: it needs a header row and one row per recharge');
  const finalBatch = await ledger.updateBatch(batchId, { state: 'imported', rowsRead: row }, nowIso(deps));
  return { kind: 'imported', rows: row, accepted: finalBatch.accepted, rejected: finalBatch.rejected };
}

function superseded(
  deps: ImportDeps,
  key: { clientId: string; batchId: string },
  row: number,
): ImportOutcome {
  deps.log.info(
    { ...key, row },
    'batch import: another run has committed these rows; leaving it to that run',
  );
  return { kind: 'superseded', rows: row };
}

/**
 * Writes chunks with up to `depth` of them in flight. Each chunk goes: orders (the ledger is
 * written before any job exists), links for orders the client already had, jobs per provider
 * queue, then — once the chunk before it is committed — its row results, the checkpoint.
 */
class ChunkWriter {
  readonly #deps: ImportDeps;
  readonly #clientId: string;
  readonly #batchId: string;
  readonly #depth: number;
  readonly #backlog: number;
  readonly #inFlight: Promise<boolean>[] = [];
  #lastCommit: Promise<boolean> = Promise.resolve(true);
  /** Whether the last chunk started added its jobs itself (decided in input order). */
  #lastRelease: Promise<boolean>;
  /** Chunks started by this run. */
  launched = 0;

  constructor(
    deps: ImportDeps,
    clientId: string,
    batchId: string,
    depth: number,
    release: { readonly backlog: number; readonly releasing: boolean },
  ) {
    this.#deps = deps;
    this.#clientId = clientId;
    this.#batchId = batchId;
    this.#depth = depth;
    this.#backlog = release.backlog;
    this.#lastRelease = Promise.resolve(release.releasing);
  }

  /** Starts writing `rows`, then waits while `depth` chunks are in flight. False: superseded. */
  async push(rows: readonly PendingRow[]): Promise<boolean> {
    let decide: (inline: boolean) => void = () => undefined;
    const release: ChunkRelease = {
      previous: this.#lastRelease,
      backlog: this.#backlog,
      decide: (inline) => decide(inline),
    };
    this.#lastRelease = new Promise<boolean>((resolve) => {
      decide = resolve;
    });
    const written = writeChunk(this.#deps, this.#clientId, this.#batchId, rows, this.#lastCommit, release);
    // A chunk that failed before deciding releases nothing, and neither does any chunk after it.
    written.then(
      () => decide(false),
      () => decide(false),
    );
    // Failures reach whoever awaits the chunk; this only keeps one waiting in line from counting
    // as unhandled meanwhile.
    written.catch(() => undefined);
    this.#lastCommit = written;
    this.#inFlight.push(written);
    this.launched += 1;
    while (this.#inFlight.length >= this.#depth) {
      if (!(await this.#inFlight.shift())) return false;
    }
    return true;
  }

  /** Waits for every chunk in flight; false when one of them was superseded. */
  async drain(): Promise<boolean> {
    let applied = true;
    while (this.#inFlight.length > 0) applied = (await this.#inFlight.shift()) === true && applied;
    return applied;
  }

  /** Waits for every chunk in flight to end, whatever the outcome. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#inFlight.splice(0));
  }
}

/** A row's route (empty: the default provider), or why no provider enabled here can take it. */
function routeRow(deps: ImportDeps, request: RechargeRequest): readonly string[] | string {
  try {
    return deps.routeFor?.(request) ?? [];
  } catch (error) {
    if (error instanceof ProviderNotEnabledError) return describeIssues(error.issues);
    throw error;
  }
}

/** The route of a row the routing table leaves to the default. */
const DEFAULT_ROUTE: readonly string[] = [DEFAULT_PROVIDER];

/** A row whose order id retention archived: refused, as a single order under that id is. */
const archivedReason = (orderId: string) =>
  `orderId: ${orderId} belongs to an order that was archived (final and older than the retention window); use a new orderId`;

/**
 * Whether a chunk adds its jobs itself: only when the chunk before it did (`previous`, so the
 * released rows stay one stretch from the first) and a queue it adds to has fewer than `backlog`
 * jobs waiting (queuesHaveRoom). The chunk tells the next one through `decide`.
 */
interface ChunkRelease {
  readonly previous: Promise<boolean>;
  readonly backlog: number;
  readonly decide: (inline: boolean) => void;
}

/**
 * One chunk. Returns false, committing nothing, when another run committed these rows first (or
 * the chunk before this one was refused for that reason).
 */
async function writeChunk(
  deps: ImportDeps,
  clientId: string,
  batchId: string,
  rows: readonly PendingRow[],
  previousCommit: Promise<boolean>,
  release: ChunkRelease,
): Promise<boolean> {
  const now = nowIso(deps);
  const orders: BatchOrder[] = [];
  // Rows whose route names no provider enabled here, with the reason.
  const notRouted = new Map<number, string>();
  const refusedKeys: OrderKey[] = [];
  for (const { row, verdict } of rows) {
    if (!verdict.ok) continue;
    const routed = routeRow(deps, verdict.request);
    if (typeof routed === 'string') {
      notRouted.set(row, routed);
      refusedKeys.push({ clientId, orderId: verdict.orderId });
      continue;
    }
    orders.push({
      orderId: verdict.orderId,
      providerOrderId: providerOrderId({ clientId, orderId: verdict.orderId }, 1),
      route: routed.length > 0 ? routed : DEFAULT_ROUTE,
      request: verdict.request,
      fingerprint: requestFingerprint(verdict.request),
    });
  }
  // A refused row whose order exists already (made while its provider was enabled, or by a run that
  // died before committing this chunk) is answered by that order, like the API's repeat; only a new
  // order is refused (the API's 422). Read for the refused rows only: the usual chunk pays nothing.
  const [created, refusedOrders] = await Promise.all([
    orders.length > 0 ? deps.ledger.createBatchOrders({ clientId, batchId, now, orders }) : [],
    Promise.all(refusedKeys.map((orderKey) => deps.ledger.getOrder(orderKey))),
  ]);
  const existingOf = new Map<string, Order>();
  for (const order of refusedOrders) if (order !== null) existingOf.set(order.orderId, order);
  if (created.length !== orders.length)
    throw new Error(
      `ledger createBatchOrders answered ${created.length} results for ${orders.length} orders`,
    );

  const results: RowResult[] = [];
  const toLink: OrderKey[] = [];
  const jobs = new Map<string, RechargeJob[]>();
  const addJob = (orderId: string, provider: string) => {
    let list = jobs.get(provider);
    if (list === undefined) {
      list = [];
      jobs.set(provider, list);
    }
    const key = { clientId, orderId };
    list.push({ payload: key, jobId: rechargeJobId(key, provider) });
  };
  /** A row naming an order the client has already: linked to it, or refused for other details. */
  const answerExisting = (row: number, cells: RowResult['cells'], order: Order, fingerprint: string) => {
    if (order.fingerprint !== fingerprint) {
      results.push({
        row,
        cells,
        error: `orderId: ${order.orderId} was already used for a different recharge (an earlier order with other details); use a new orderId for this one`,
      });
      return;
    }
    if (order.batchId !== batchId) toLink.push({ clientId, orderId: order.orderId });
    // A repeat whose job may have been lost (like submitOrder): job ids make a second add harmless.
    // The order's own provider, whether or not it is enabled here: it was chosen when it was made.
    if (order.state === 'queued') addJob(order.orderId, order.provider);
    results.push({ row, cells, orderId: order.orderId });
  };
  let next = 0;
  for (const { row, verdict } of rows) {
    if (!verdict.ok) {
      results.push({ row, cells: verdict.cells, error: verdict.error });
      continue;
    }
    const refusal = notRouted.get(row);
    if (refusal !== undefined) {
      const existing = existingOf.get(verdict.orderId);
      if (existing === undefined) results.push({ row, cells: verdict.cells, error: refusal });
      else answerExisting(row, verdict.cells, existing, requestFingerprint(verdict.request));
      continue;
    }
    const asked = orders[next] as BatchOrder;
    const outcome = created[next] as BatchOrderResult;
    next += 1;
    switch (outcome.kind) {
      case 'created':
        addJob(asked.orderId, asked.route[0] as string);
        results.push({ row, cells: verdict.cells, orderId: asked.orderId });
        break;
      case 'archived':
        results.push({ row, cells: verdict.cells, error: archivedReason(asked.orderId) });
        break;
      case 'existing':
        answerExisting(row, verdict.cells, outcome.order, asked.fingerprint);
        break;
      default:
        return outcome satisfies never;
    }
  }
  // The jobs are added here while the queues are short; otherwise the orders wait in the ledger,
  // `queued`, for the batch's release job (release-batch.ts), which adds them as the queues drain.
  let inline = false;
  try {
    inline = (await release.previous) && (await queuesHaveRoom(deps.producer, jobs.keys(), release.backlog));
  } finally {
    release.decide(inline);
  }
  // Not swallowed like a single order's enqueue: a failure fails the job, whose retry redoes this
  // uncommitted chunk (idempotently), so no order of the batch waits for the recovery sweep.
  await Promise.all([
    toLink.length > 0 ? deps.ledger.linkOrders(batchId, toLink) : undefined,
    inline ? addRechargeJobs(deps.producer, jobs) : undefined,
  ]);
  // Results are committed in input order: the checkpoint only ever moves forward by whole chunks.
  if (!(await previousCommit)) return false;
  const committed = await deps.ledger.commitRows(batchId, results, now);
  // The chunk's jobs are in: so are its rows, as released (false when a row before it is not: the
  // release job then adds these jobs again, which their ids make harmless).
  if (committed && deps.onRowsCommitted) {
    const rejected = results.filter((result) => result.error !== undefined).length;
    deps.onRowsCommitted(results.length - rejected, rejected);
  }
  if (committed && inline) {
    const first = (rows[0] as PendingRow).row;
    if (await deps.ledger.releaseRows(batchId, first, results.length)) deps.onRowsReleased?.(results.length);
  }
  return committed;
}
