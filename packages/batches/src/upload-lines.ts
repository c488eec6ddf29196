import { isUtf8 } from 'node:buffer';

/**
 * Lines of a stored upload, as bytes: a line ends with a line feed (a CRLF line too), the header is
 * line 1. The same count as the upload's own (intake.ts), so "line 7" means the 7th line a text
 * editor shows.
 */

const NEWLINE = 0x0a;
const EMPTY: Buffer = Buffer.alloc(0);

/** Line feeds in `data`. */
export function countNewlines(data: Buffer): number {
  let count = 0;
  for (let at = data.indexOf(NEWLINE); at >= 0; at = data.indexOf(NEWLINE, at + 1)) count += 1;
  return count;
}

/** Where a stored upload stops being UTF-8 text. */
export interface Utf8Break {
  /** The first line holding a byte that is not UTF-8 (1-based). */
  readonly line: number;
  /** Where that line starts, in bytes from the start of the file. */
  readonly offset: number;
}

/**
 * The longest run of whole lines at the start of `data` (which ends with a line feed) that is UTF-8:
 * its length in bytes and its line count.
 */
function utf8Lines(data: Buffer): { readonly bytes: number; readonly lines: number } {
  let start = 0;
  let lines = 0;
  for (;;) {
    const end = data.indexOf(NEWLINE, start);
    if (end < 0 || !isUtf8(data.subarray(start, end + 1))) return { bytes: start, lines };
    lines += 1;
    start = end + 1;
  }
}

/**
 * `source` passed on up to the first line that holds a byte that is not UTF-8 (that line and the
 * rest are not), then `onBreak` is told where. csv-parse would otherwise read such bytes as U+FFFD
 * and make orders of garbled cells. A line feed never occurs inside a UTF-8 character, so whole
 * lines are checked at once (the fast path, `isUtf8`, for a whole chunk of them); the unfinished
 * last line is held back until its end, so memory holds one chunk and one line (the upload refuses
 * lines longer than BATCH_MAX_ROW_BYTES).
 */
export async function* untilNotUtf8(
  source: AsyncIterable<Buffer>,
  onBreak: (where: Utf8Break) => void,
): AsyncGenerator<Buffer> {
  let held: Buffer = EMPTY;
  let offset = 0;
  let line = 1;
  for await (const chunk of source) {
    const data = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    const last = data.lastIndexOf(NEWLINE);
    if (last < 0) {
      held = data;
      continue;
    }
    const whole = data.subarray(0, last + 1);
    // A copy, so the chunk it came from is not kept alive by the few bytes held.
    held = Buffer.from(data.subarray(last + 1));
    if (isUtf8(whole)) {
      line += countNewlines(whole);
      offset += whole.length;
      yield whole;
      continue;
    }
    const good = utf8Lines(whole);
    if (good.bytes > 0) yield whole.subarray(0, good.bytes);
    onBreak({ line: line + good.lines, offset: offset + good.bytes });
    return;
  }
  if (held.length === 0) return;
  if (isUtf8(held)) yield held;
  else onBreak({ line, offset });
}

/** Counted by countRowsFrom. */
export interface RowsFrom {
  /** The line `from` falls on (1-based). */
  readonly lineAt: number;
  /** The first line at or after `from` that holds a row; undefined when none does. */
  readonly firstRowLine: number | undefined;
  /** Lines at or after `from` that hold a row. */
  readonly rows: number;
  /** Why the stored file could not be read to its end (`rows` then counts what could be read). */
  readonly unreadable?: string | undefined;
}

/** A line holds a row unless it has nothing but spaces, tabs and commas (what the import skips). */
function holdsRow(data: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = data[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x2c && byte !== 0x0d) return true;
  }
  return false;
}

/**
 * Counts the lines holding a row from byte `from` (a line start) to the end of the file, streaming.
 * Used where the file stopped being readable as CSV: past an unclosed quote no parser can tell
 * where rows begin or end (the quote may swallow line breaks, or close on a later line and swallow
 * the lines between), so each line that is not blank counts as one input row — what a person
 * looking at the file in an editor counts, and what the upload counted for BATCH_MAX_ROWS.
 */
export async function countRowsFrom(source: AsyncIterable<Buffer>, from: number): Promise<RowsFrom> {
  let offset = 0;
  let line = 1;
  let lineAt: number | undefined;
  let firstRowLine: number | undefined;
  let rows = 0;
  let content = false;
  let unreadable: string | undefined;
  try {
    for await (const chunk of source) {
      let start = 0;
      if (offset + chunk.length <= from) {
        line += countNewlines(chunk);
        offset += chunk.length;
        continue;
      }
      if (offset < from) {
        start = from - offset;
        line += countNewlines(chunk.subarray(0, start));
      }
      lineAt ??= line;
      for (;;) {
        const end = chunk.indexOf(NEWLINE, start);
        if (!content && holdsRow(chunk, start, end < 0 ? chunk.length : end)) content = true;
        if (end < 0) break;
        if (content) {
          rows += 1;
          firstRowLine ??= line;
        }
        content = false;
        line += 1;
        start = end + 1;
      }
      offset += chunk.length;
    }
  } catch (error) {
    unreadable = error instanceof Error ? error.message : String(error);
  }
  if (content) {
    rows += 1;
    firstRowLine ??= line;
  }
  return { lineAt: lineAt ?? line, firstRowLine, rows, unreadable };
}
