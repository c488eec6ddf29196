/**
 * What each `npm run batch` command does: upload a CSV and follow it to its end, follow a batch
 * already uploaded, one look at a batch, save its results.csv, list the client's batches.
 */
import { createWriteStream } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ApiClient, CliError } from './api-client.ts';
import {
  type BatchView,
  batchFinished,
  batchListSchema,
  batchViewSchema,
  orderPageSchema,
  ordersIn,
  providersSchema,
  READING_BATCH_STATES,
} from './api-types.ts';
import { type Display, plainLine } from './progress.ts';
import { type ResultsTally, summaryText, tallyResults } from './summary.ts';
import { waitReason } from './wait-reason.ts';

export interface FollowOptions {
  readonly display: Display;
  /** Between two looks at the batch. */
  readonly intervalMs: number;
  /** Say why it waits once the batch has not moved for this long. */
  readonly stallMs: number;
  /** Say it again (while it still does not move) at most this often, unless the reason changes. */
  readonly waitEveryMs: number;
  /** The CLI's own count of the file's rows (the import bar's total). */
  readonly totalRows?: number | undefined;
  /** How long the API may fail to answer (unreachable, 429, 5xx) before following gives up. */
  readonly patienceMs?: number;
}

/** The batch being followed and its display, for Ctrl-C (the bar must give the terminal back). */
export const following: { batchId?: string; display?: Display } = {};

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const batchPath = (batchId: string) => `/v1/batches/${encodeURIComponent(batchId)}`;

/** Errors reading or writing a file, as one sentence each. */
function fileProblem(file: string, error: unknown, doing: 'read' | 'write' = 'read'): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return doing === 'read' ? `no file ${file}` : `cannot write ${file}: its folder does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `cannot ${doing} ${file}: permission denied`;
    case 'EISDIR':
      return `${file} is a directory, not a CSV file`;
    default:
      return `cannot ${doing} ${file}: ${(error as Error).message ?? String(error)}`;
  }
}

async function openCsv(file: string): Promise<{ handle: FileHandle; bytes: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new CliError(fileProblem(file, error), { cause: error });
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw new CliError(`${file} is a directory, not a CSV file`);
  }
  return { handle, bytes: stat.size };
}

/** Data rows (non-empty lines after the header): the import bar's total, an estimate. */
async function countRows(handle: FileHandle): Promise<number> {
  let lines = 0;
  const stream = handle.createReadStream({ start: 0, autoClose: false });
  for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }))
    if (line.trim() !== '') lines++;
  return Math.max(0, lines - 1);
}

/** The reason the batch does not move, from what the client key may read. */
async function explainWait(client: ApiClient, view: BatchView): Promise<string> {
  if (READING_BATCH_STATES.includes(view.state)) return waitReason({ view });
  const providers = await client
    .json('/v1/providers', providersSchema)
    .then((r) => r.body.providers)
    .catch(() => undefined);
  // One of its waiting orders: the newest queued (else pending) orders of the client, this batch's.
  const state =
    ordersIn(view, ['queued']) > 0 ? 'queued' : ordersIn(view, ['pending']) > 0 ? 'pending' : undefined;
  const sample = state
    ? await client
        .json(`/v1/recharges?status=${state}&limit=100`, orderPageSchema)
        .then((r) => r.body.orders.find((o) => o.batchId === view.batchId))
        .catch(() => undefined)
    : undefined;
  return waitReason({ view, providers, sample });
}

/**
 * The batch now. An API that does not answer for a moment (restarting, 429, 5xx) is asked again,
 * said once, for up to `patienceMs` (default 60 s); then its sentence ends the command.
 */
async function lookAgain(client: ApiClient, batchId: string, options: FollowOptions): Promise<BatchView> {
  const giveUpAt = Date.now() + (options.patienceMs ?? 60_000);
  let said = false;
  for (;;) {
    try {
      return (await client.json(batchPath(batchId), batchViewSchema)).body;
    } catch (error) {
      if (!(error instanceof CliError) || !error.retryable || Date.now() >= giveUpAt) throw error;
      if (!said) options.display.log(`${error.message}; asking again`);
      said = true;
      await sleep(Math.max(options.intervalMs, 1_000));
    }
  }
}

/** Shows the batch until it is finished (every row read, no order moving); resolves with it. */
export async function follow(
  client: ApiClient,
  first: BatchView,
  options: FollowOptions,
): Promise<BatchView> {
  let view = first;
  following.batchId = first.batchId;
  following.display = options.display;
  const progressOf = (v: BatchView) => JSON.stringify([v.state, v.rows, v.orders]);
  let progress = progressOf(view);
  let movedAt = Date.now();
  let said = { text: '', at: 0 };
  // While nothing moves, the reason is looked up again this often (two small reads), and said
  // again when it changed in words (not just in its numbers and times) or waitEveryMs has passed.
  const gist = (text: string) => text.replace(/\d+/g, '#');
  const recheckMs = Math.max(options.intervalMs, 5_000);
  let checkedAt = 0;
  for (;;) {
    options.display.show(view, options.totalRows);
    if (batchFinished(view)) return view;
    await sleep(options.intervalMs);
    view = await lookAgain(client, view.batchId, options);
    const now = Date.now();
    if (progressOf(view) !== progress) {
      progress = progressOf(view);
      movedAt = now;
      checkedAt = 0;
      continue;
    }
    if (now - movedAt < options.stallMs || now - checkedAt < recheckMs) continue;
    checkedAt = now;
    const text = await explainWait(client, view);
    if (gist(text) === gist(said.text) && now - said.at < options.waitEveryMs) continue;
    options.display.log(text);
    said = { text, at: now };
  }
}

/**
 * Saves results.csv to `out` (written whole, then renamed into place) and tallies it; a failure
 * to save is reported in the summary, not thrown: the batch itself is finished.
 */
async function saveResults(
  client: ApiClient,
  batchId: string,
  out: string,
): Promise<{ tally?: ResultsTally; problem?: string }> {
  const partial = `${out}.part`;
  try {
    const response = await client.call(`${batchPath(batchId)}/results.csv`, {
      expect: 'csv',
      timeoutMs: null,
    });
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(partial));
    await rename(partial, out);
  } catch (error) {
    await rm(partial, { force: true });
    return { problem: error instanceof CliError ? error.message : fileProblem(out, error, 'write') };
  }
  return { tally: await tallyResults(out) };
}

export interface UploadOptions extends Omit<FollowOptions, 'totalRows'> {
  /** Where results.csv goes (default: beside the file, `<name>.results.csv`). */
  readonly out?: string | undefined;
  /** False: upload, print the batch id, do not follow. */
  readonly follow: boolean;
  readonly say: (line: string) => void;
}

/** `orders.csv` → `orders.results.csv` beside it. */
export function defaultResultsPath(file: string): string {
  const name = basename(file, extname(file));
  return join(dirname(resolve(file)), `${name}.results.csv`);
}

/** A file name fit for an HTTP header: printable ASCII, bounded. */
function headerSafe(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 200) || 'upload.csv';
}

export async function upload(client: ApiClient, file: string, options: UploadOptions): Promise<string> {
  const { handle, bytes } = await openCsv(file);
  let totalRows: number;
  try {
    totalRows = await countRows(handle);
  } catch (error) {
    await handle.close();
    throw new CliError(fileProblem(file, error), { cause: error });
  }
  options.say(
    `uploading ${file} (${totalRows} rows, ${bytes} bytes) to ${client.target.url} (${client.target.from})`,
  );
  let readFailure: unknown;
  const source = handle.createReadStream({ start: 0 });
  source.on('error', (error) => {
    readFailure = error;
  });
  const answer = await client.json('/v1/batches', batchViewSchema, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', 'x-filename': headerSafe(basename(file)) },
    body: Readable.toWeb(source) as unknown as RequestInit['body'],
    timeoutMs: null,
    bodyFailure: () => (readFailure ? fileProblem(file, readFailure) : undefined),
  });
  source.destroy();
  const first = answer.body;
  options.say(
    answer.status === 200
      ? `this file was uploaded before: batch ${first.batchId} (nothing new was created)`
      : `batch ${first.batchId} stored; the import is queued`,
  );
  if (!options.follow) {
    process.stdout.write(`${first.batchId}\n`);
    return first.batchId;
  }
  const view = await follow(client, first, { ...options, totalRows });
  options.display.stop();
  await finish(client, view, options.out ?? defaultResultsPath(file));
  return view.batchId;
}

/** The summary on stdout, with results.csv saved. */
async function finish(client: ApiClient, view: BatchView, out: string): Promise<void> {
  const saved = await saveResults(client, view.batchId, out);
  process.stdout.write(
    summaryText({
      view,
      tally: saved.tally,
      resultsPath: saved.tally ? out : undefined,
      resultsProblem: saved.problem,
    }),
  );
}

export async function followBatch(
  client: ApiClient,
  batchId: string,
  /** `out` defaults to `<batchId>.results.csv` in `dir`. */
  options: FollowOptions & { out?: string | undefined; dir: string },
): Promise<void> {
  const first = (await client.json(batchPath(batchId), batchViewSchema)).body;
  const view = await follow(client, first, options);
  options.display.stop();
  await finish(client, view, options.out ?? join(options.dir, `${batchId}.results.csv`));
}

export async function status(client: ApiClient, batchId: string, json: boolean): Promise<void> {
  const view = (await client.json(batchPath(batchId), batchViewSchema)).body;
  if (json) {
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    return;
  }
  process.stdout.write(summaryText({ view }));
  if (!batchFinished(view)) process.stdout.write(`  now:      ${plainLine(view)}\n`);
}

export async function results(client: ApiClient, batchId: string, out: string | undefined): Promise<void> {
  const response = await client.call(`${batchPath(batchId)}/results.csv`, { expect: 'csv', timeoutMs: null });
  if (!out) {
    await pipeline(Readable.fromWeb(response.body as never), process.stdout, { end: false });
    return;
  }
  const partial = `${out}.part`;
  try {
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(partial));
    await rename(partial, out);
  } catch (error) {
    await rm(partial, { force: true });
    throw new CliError(fileProblem(out, error, 'write'), { cause: error });
  }
  process.stderr.write(`results.csv of batch ${batchId} written to ${resolve(out)}\n`);
}

export async function list(client: ApiClient, limit: number): Promise<void> {
  const page = (await client.json(`/v1/batches?limit=${limit}`, batchListSchema)).body;
  if (page.batches.length === 0) {
    process.stdout.write('no batches yet\n');
    return;
  }
  for (const view of page.batches) {
    const created = typeof view.createdAt === 'string' ? view.createdAt : '';
    process.stdout.write(
      `${view.batchId}  ${view.state.padEnd(9)}  ${String(view.rows.read).padStart(7)} rows  ${created}  ${view.filename ?? ''}\n`,
    );
  }
}
