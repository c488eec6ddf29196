/**
 * Showing a batch as it moves, on stderr: a cli-progress bar on a terminal (rows read while it
 * imports, then orders settled), with messages printed above it; plain lines otherwise (a log, a
 * CI job, a pipe), one when the batch's state changes and at most one per `plainEveryMs` else.
 */
import cliProgress from 'cli-progress';
import { type BatchView, countsText, READING_BATCH_STATES, settledOrders } from './api-types.ts';

export interface Display {
  /** Shows the batch as it is now; `totalRows` is the CLI's own count of the file's rows, if known. */
  show(view: BatchView, totalRows?: number): void;
  /** A message line, kept above the bar. */
  log(line: string): void;
  stop(): void;
}

interface Figures {
  phase: string;
  value: number;
  total: number;
  unit: string;
  detail: string;
}

function figures(view: BatchView, totalRows: number | undefined): Figures {
  const rejected = view.rows.rejected > 0 ? `, ${view.rows.rejected} rejected` : '';
  if (READING_BATCH_STATES.includes(view.state)) {
    const total = Math.max(totalRows ?? 0, view.rows.read);
    return {
      phase: view.state,
      value: view.rows.read,
      total,
      unit: 'rows read',
      detail: `${view.rows.accepted} accepted${rejected}`,
    };
  }
  return {
    phase: view.state,
    value: settledOrders(view),
    total: view.rows.accepted,
    unit: 'orders settled',
    detail: `${countsText(view.orders)}${rejected ? `; rows${rejected.slice(1)}` : ''}`,
  };
}

/** The plain line: `importing: 120/303 rows read (118 accepted, 2 rejected)`. */
export function plainLine(view: BatchView, totalRows?: number): string {
  const f = figures(view, totalRows);
  return `${f.phase}: ${f.value}/${f.total} ${f.unit} (${f.detail})`;
}

export function createDisplay(options: {
  readonly tty: boolean;
  readonly stream?: NodeJS.WriteStream;
  readonly plainEveryMs?: number;
  readonly now?: () => number;
}): Display {
  const stream = options.stream ?? process.stderr;
  if (!options.tty) {
    const every = options.plainEveryMs ?? 10_000;
    const now = options.now ?? Date.now;
    let lastText = '';
    let lastState = '';
    let lastAt = 0;
    return {
      show(view, totalRows) {
        const text = plainLine(view, totalRows);
        const due = view.state !== lastState || (text !== lastText && now() - lastAt >= every);
        if (!due) return;
        stream.write(`${text}\n`);
        [lastText, lastState, lastAt] = [text, view.state, now()];
      },
      log(line) {
        stream.write(`${line}\n`);
      },
      stop() {},
    };
  }

  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: '{phase} {bar} {percentage}% | {value}/{total} {unit} | {detail}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      emptyOnZero: true,
      // The bar follows polled values: a few redraws a second, each one whole (a message printed
      // above the bar clears its line, and cli-progress redraws only a changed bar otherwise).
      fps: 5,
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  return {
    show(view, totalRows) {
      const f = figures(view, totalRows);
      const payload = { phase: f.phase.padEnd(9), unit: f.unit, detail: f.detail };
      if (!bar) {
        bar = bars.create(f.total, f.value, payload);
        return;
      }
      if (bar.getTotal() !== f.total) bar.setTotal(f.total);
      bar.update(f.value, payload);
    },
    log(line) {
      bars.log(`${line}\n`);
      // Printed with the next redraw; force one so the message shows now.
      bars.update();
    },
    stop() {
      bars.stop();
    },
  };
}
