import { type HistoryEntry, maskCardNumbers, maskNumber, type Order } from '@rechargeflow/domain';

/** Longest reason results.csv carries: a history note can be long (a provider's own words). */
export const MAX_REASON_CHARS = 500;

/** Said when the order's history holds no note for the transition into its state. */
const NO_NOTE = {
  failed: 'failed (no reason was recorded)',
  manual_review: 'held for an operator to decide (no reason was recorded)',
  reversed: 'reversed after it succeeded: the amount went back to the provider balance',
} as const;

/** The latest entry that moved the order into the state it is in now (the history is in order). */
function entering(order: Order): HistoryEntry | undefined {
  for (let i = order.history.length - 1; i >= 0; i--) {
    const entry = order.history[i];
    if (entry !== undefined && entry.to === order.state && entry.from !== order.state) return entry;
  }
  return undefined;
}

/** The latest entry, when it is an event in the current state (a wait, a status check), not a move. */
function latestEvent(order: Order): string | undefined {
  const last = order.history.at(-1);
  return last !== undefined && last.from === order.state && last.to === order.state ? last.note : undefined;
}

/** The order's number in `text`, written with or without spaces or dashes between its digits. */
function numberPattern(number: string): RegExp | null {
  if (number.length < 5) return null;
  if (!/^\d+$/.test(number)) return new RegExp(number.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g');
  return new RegExp(number.split('').join('[\\s\\u00a0-]?'), 'g');
}

/**
 * A note made fit for results.csv: one line, bounded, the order's full number masked (a provider's
 * message may quote it) and any card number removed. Formula characters and quotes are the CSV
 * writer's business (csvCell).
 */
export function cleanReason(text: string, order?: Pick<Order, 'request'>): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  let out = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const pattern = order === undefined ? null : numberPattern(order.request.number);
  if (pattern !== null && order !== undefined) out = out.replace(pattern, maskNumber(order.request.number));
  out = maskCardNumbers(out);
  return out.length > MAX_REASON_CHARS ? `${out.slice(0, MAX_REASON_CHARS - 1)}…` : out;
}

/**
 * Why the order is in its state, in plain words, for results.csv: empty for `success`; for `failed`,
 * `manual_review` and `reversed` the note of the transition into that state (`a1topup refused: …`,
 * `never sent: no provider could take it (a1topup circuit open)`, the reversal, why a person must
 * decide); for an order still moving, what it waits for, with its latest note while it waits
 * (e.g. the provider outage it waits out).
 */
export function orderReason(order: Order): string {
  switch (order.state) {
    case 'success':
      return '';
    case 'failed':
    case 'manual_review':
    case 'reversed':
      return cleanReason(entering(order)?.note ?? NO_NOTE[order.state], order);
    case 'queued':
    case 'processing':
    case 'pending': {
      const waiting = {
        queued: `waiting to be sent to ${order.provider}`,
        processing: `being sent to ${order.provider}`,
        pending: `sent to ${order.provider}; waiting for its final answer (its callback or the status check settles it)`,
      }[order.state];
      const latest = latestEvent(order);
      return cleanReason(latest === undefined ? waiting : `${waiting}; latest: ${latest}`, order);
    }
    default:
      return cleanReason(`the order is ${String(order.state)}`, order);
  }
}
