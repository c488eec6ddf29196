import type { HistoryEntry, Order } from '@rechargeflow/domain';
import type { World } from './world.ts';

/**
 * The books check, after a run has settled. Groups (select with FC_CHECK, default all):
 *
 * - `sent-twice`: no providerOrderId is sent to a provider again once a call carrying it may have
 *   reached one (only a call that provably never left, `not_sent`, may be repeated).
 *
 * - `books`: every charge on any provider's books appears in the ledger exactly once, on the right
 *   attempt. What that means with failover: an order's attempts are its providerOrderIds, one per
 *   provider of its route (P1 at a1topup, P2 at a1topup_backup); the ledger holds each P for exactly
 *   one order (unique claim), and the order says which attempt is its outcome (its current
 *   providerOrderId). A charge on P is booked exactly once on the right attempt when the order that
 *   holds P is `success` (or `reversed`) *with providerOrderId = P*, or is `manual_review` with P
 *   named in its history (a person decides; the charge is not lost). So: an order `success` on P2
 *   while P1 was charged is wrong (the P1 charge is unbooked, and P2's outcome is asserted without a
 *   charge); an order with two charged attempts is wrong whatever its state (one top-up paid twice:
 *   at most one of them can be its outcome); a charged attempt of an order that is `failed` is wrong
 *   (money left, the client was told it failed). And the other way round: an order with no charge on
 *   any provider's books is never `success` (nor `reversed`).
 *
 * - `history-answers`, `history-callbacks` (`history`: both): every provider event the system received is in the history of the order that holds
 *   its providerOrderId: each worker answer (returned or thrown) whose job run ran to its end (a run
 *   that crashed lost its answer with it), and each callback stored and handed to applyCallback
 *   (duplicates of one stored callback count once). An event is found by its source and its raw
 *   status (or the error's message, or the orderid) in the entry; each needs its own entry.
 *
 * - `settled`: the settle phase ended with nothing in flight (no order queued, processing or
 *   pending; no callback left `received`), and no task failed with an error the queue would not
 *   retry.
 */

export const CHECK_GROUPS = [
  'sent-twice',
  'books',
  'history-answers',
  'history-callbacks',
  'settled',
] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

/** Parses FC_CHECK: a comma list of groups (`history` stands for both history groups). */
export function parseGroups(text: string | undefined): Set<CheckGroup> {
  if (!text) return new Set(CHECK_GROUPS);
  const groups = new Set<CheckGroup>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === 'history') {
      groups.add('history-answers');
      groups.add('history-callbacks');
    } else if ((CHECK_GROUPS as readonly string[]).includes(name)) {
      groups.add(name as CheckGroup);
    } else {
      throw new Error(`FC_CHECK: unknown group ${name} (one of ${CHECK_GROUPS.join(', ')}, history)`);
    }
  }
  return groups;
}

export interface Violation {
  readonly group: CheckGroup;
  readonly text: string;
}

function mentions(entry: HistoryEntry, token: string): boolean {
  return entry.providerStatus === token || (entry.note?.includes(token) ?? false);
}

export async function checkWorld(world: World, groups: ReadonlySet<CheckGroup>): Promise<Violation[]> {
  const out: Violation[] = [];
  const add = (group: CheckGroup, text: string) => {
    if (groups.has(group)) out.push({ group, text: world.readable(text) });
  };
  const orders = new Map<string, Order>();
  for (const o of world.orders) {
    const order = await world.ledger.getOrder(o.key);
    if (!order) {
      add('settled', `o${o.index} is not in the ledger`);
      continue;
    }
    orders.set(o.key.orderId, order);
  }

  // sent-twice
  for (const text of world.market.sentTwice) add('sent-twice', text);

  // books
  for (const o of world.orders) {
    const order = orders.get(o.key.orderId);
    if (!order) continue;
    const charged = o.attempts.filter((id) => world.market.books.get(id)?.state === 'charged');
    const where = `o${o.index} is ${order.state} on ${order.providerOrderId}`;
    if (charged.length > 1)
      add('books', `${charged.join(' and ')} were all charged (one order paid twice); ${where}`);
    for (const id of charged) {
      const booked =
        ((order.state === 'success' || order.state === 'reversed') && order.providerOrderId === id) ||
        (order.state === 'manual_review' && order.history.some((h) => h.note?.includes(id)));
      if (!booked) add('books', `${id} was charged at ${world.market.books.get(id)?.provider} but ${where}`);
    }
    if (charged.length === 0 && (order.state === 'success' || order.state === 'reversed'))
      add('books', `no provider charged any attempt of o${o.index}, but ${where}`);
  }

  // history
  const needs = new Map<
    string,
    { order: Order; source: 'worker' | 'callback'; token: string; alt?: string; what: string[] }
  >();
  const need = (id: string, source: 'worker' | 'callback', token: string, what: string, alt?: string) => {
    const o = world.orderOf(id);
    const order = o && orders.get(o.key.orderId);
    if (!order) return;
    const key = `${order.orderId}|${source}|${token}`;
    const entry = needs.get(key) ?? { order, source, token, ...(alt ? { alt } : {}), what: [] };
    entry.what.push(what);
    needs.set(key, entry);
  };
  for (const answer of world.market.answers) {
    if (!answer.task?.done) continue;
    need(answer.providerOrderId, 'worker', answer.token, `worker answer: ${answer.describe}`);
  }
  for (const callback of world.delivered.values()) {
    need(
      callback.providerOrderId,
      'callback',
      callback.status,
      `callback ${callback.status} ${callback.providerOrderId} (${callback.why})`,
      callback.providerOrderId,
    );
  }
  for (const { order, source, token, alt, what } of needs.values()) {
    const found = order.history.filter(
      (h) => h.source === source && (mentions(h, token) || (alt !== undefined && mentions(h, alt))),
    ).length;
    if (found < what.length) {
      add(
        source === 'worker' ? 'history-answers' : 'history-callbacks',
        `o${world.orderOf(order.providerOrderId)?.index}'s history has ${found} ${source} entr${found === 1 ? 'y' : 'ies'} for ${what.length} event(s): ${what.join('; ')}`,
      );
    }
  }

  // settled
  for (const o of world.orders) {
    const order = orders.get(o.key.orderId);
    if (order && (order.state === 'queued' || order.state === 'processing' || order.state === 'pending'))
      add(
        'settled',
        `o${o.index} is still ${order.state}${order.inFlight ? ' (in flight)' : ''} after settling`,
      );
  }
  for (const callback of world.delivered.values()) {
    const record = await world.ledger.getCallback(callback.recordId);
    if (record?.outcome === 'received')
      add(
        'settled',
        `callback ${callback.status} ${callback.providerOrderId} is still 'received' after settling`,
      );
  }
  for (const task of world.scheduler.live()) add('settled', `${task} still running after settling`);
  for (const text of world.errors) add('settled', text);
  return out;
}

/** What a failing run prints: the violations, the steps as they happened, and each order's history. */
export async function describeRun(world: World, violations: readonly Violation[]): Promise<string> {
  const lines: string[] = [];
  lines.push(`${violations.length} violation(s):`);
  for (const v of violations) lines.push(`  [${v.group}] ${v.text}`);
  lines.push('steps:');
  for (const t of world.trace) lines.push(`  ${world.readable(t)}`);
  lines.push('books:');
  for (const [id, entry] of world.market.books)
    lines.push(`  ${world.alias(id)} at ${entry.provider}: ${entry.state}`);
  lines.push('ledger:');
  for (const o of world.orders) {
    const order = await world.ledger.getOrder(o.key);
    if (!order) continue;
    lines.push(`  o${o.index}: ${order.state} on ${world.alias(order.providerOrderId)} (${order.provider})`);
    for (const h of order.history) {
      const status = h.providerStatus ? ` [${h.providerStatus}]` : '';
      lines.push(`    ${h.from ?? '-'} -> ${h.to} by ${h.source}${status}: ${world.readable(h.note ?? '')}`);
    }
  }
  return lines.join('\n');
}
