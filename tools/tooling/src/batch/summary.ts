/**
 * The end of a batch in a few lines: its rows, every input row's state as results.csv has it, the
 * most common reasons rows did not succeed, why the import stopped if it did, and where
 * results.csv was written. results.csv is read as a stream: a million rows cost no memory.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { type BatchView, batchReasons, countsText } from './api-types.ts';

export interface ResultsTally {
  readonly rows: number;
  /** Rows by the state results.csv gives them, as it names them. */
  readonly states: Record<string, number>;
  /** `state: reason` → rows, for rows with a reason. */
  readonly reasons: Map<string, number>;
}

/**
 * results.csv's columns are the input's, then the results: the state (`state`, else `status`) and
 * the reason (`reason`, else `error`), found by name so that added columns change nothing here.
 */
export async function tallyResults(source: NodeJS.ReadableStream | string): Promise<ResultsTally> {
  const input = typeof source === 'string' ? createReadStream(source) : source;
  const parser = input.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true }));
  let stateAt = -1;
  let reasonAt = -1;
  let header = true;
  let rows = 0;
  const states: Record<string, number> = {};
  const reasons = new Map<string, number>();
  for await (const record of parser as AsyncIterable<string[]>) {
    if (header) {
      const names = record.map((name) => name.trim().toLowerCase());
      // The results columns come last (an input column may not bear these names).
      const column = (preferred: string, other: string) =>
        names.includes(preferred) ? names.lastIndexOf(preferred) : names.lastIndexOf(other);
      stateAt = column('state', 'status');
      reasonAt = column('reason', 'error');
      header = false;
      continue;
    }
    rows++;
    const state = (stateAt >= 0 ? record[stateAt] : undefined)?.trim() || '(no state)';
    states[state] = (states[state] ?? 0) + 1;
    const reason = (reasonAt >= 0 ? record[reasonAt] : undefined)?.trim();
    if (reason) {
      const key = `${state}: ${reason}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
  }
  return { rows, states, reasons };
}

export interface SummaryInput {
  readonly view: BatchView;
  readonly tally?: ResultsTally | undefined;
  /** Where results.csv was written. */
  readonly resultsPath?: string | undefined;
  /** Why results.csv could not be saved, when it could not. */
  readonly resultsProblem?: string | undefined;
  /** How many distinct reasons to list (default 5). */
  readonly topReasons?: number;
}

export function summaryText(input: SummaryInput): string {
  const { view, tally } = input;
  const lines = [`batch ${view.batchId}${view.filename ? ` (${view.filename})` : ''}: ${view.state}`];
  lines.push(
    `  rows:     ${view.rows.read} read, ${view.rows.accepted} accepted, ${view.rows.rejected} rejected`,
  );
  lines.push(`  orders:   ${countsText(view.orders)}`);
  if (tally) lines.push(`  by row:   ${countsText(tally.states)}`);
  for (const reason of batchReasons(view)) lines.push(`  stopped:  ${reason}`);
  if (tally && tally.reasons.size > 0) {
    const top = input.topReasons ?? 5;
    const sorted = [...tally.reasons.entries()].sort(([, a], [, b]) => b - a);
    lines.push('  reasons:');
    for (const [reason, n] of sorted.slice(0, top)) lines.push(`    ${String(n).padStart(6)}  ${reason}`);
    if (sorted.length > top) {
      const rest = sorted.slice(top).reduce((sum, [, n]) => sum + n, 0);
      lines.push(
        `    ${String(rest).padStart(6)}  rows with ${sorted.length - top} other reasons (see results.csv)`,
      );
    }
  }
  if (input.resultsPath)
    lines.push(`  results:  ${input.resultsPath}${tally ? ` (${tally.rows} rows)` : ''}`);
  if (input.resultsProblem) lines.push(`  results:  not saved: ${input.resultsProblem}`);
  return `${lines.join('\n')}\n`;
}
