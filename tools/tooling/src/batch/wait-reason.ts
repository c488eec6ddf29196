/**
 * Why a batch does not move, in one line, from what a client key may read: the batch's counts, the
 * providers' health (`GET /v1/providers`: breaker state, balance) and the latest note of one of its
 * waiting orders (the worker writes there what the order waits for and until when).
 */
import { type BatchView, type OrderSample, ordersIn, type ProviderStatus } from './api-types.ts';

export interface WaitFacts {
  readonly view: BatchView;
  /** Undefined when they could not be read. */
  readonly providers?: readonly ProviderStatus[] | undefined;
  /** One of the batch's queued (else pending) orders, when one was found. */
  readonly sample?: OrderSample | undefined;
  /** Formats a time of day (the CLI: local HH:MM:SS). */
  readonly clock?: (iso: string) => string;
  /** Now, in ms: a breaker's next trial already due is not shown. */
  readonly now?: number;
}

export function localClock(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toTimeString().slice(0, 8);
}

/** A provider's trouble in a few words, or undefined when it is up with money. */
export function providerTrouble(
  provider: ProviderStatus,
  clock: (iso: string) => string,
  now: number = Date.now(),
): string | undefined {
  const parts: string[] = [];
  const breaker = provider.breaker;
  if (breaker?.state === 'open') {
    const since = breaker.openedAt ? ` since ${clock(breaker.openedAt)}` : '';
    const next = breaker.nextProbeAt;
    const trial = next && Date.parse(next) > now ? `, next trial ${clock(next)}` : '';
    parts.push(`circuit open${since}${trial}`);
  } else if (breaker?.state === 'half_open') {
    parts.push('circuit half-open, one trial order decides');
  } else if (breaker && breaker.state !== 'closed') {
    parts.push(`circuit ${breaker.state}`);
  } else if (!breaker && provider.health && provider.health !== 'up') {
    parts.push(provider.health);
  }
  if (provider.balance && provider.balance.amount <= 0) parts.push(`balance ${provider.balance.amount}`);
  return parts.length === 0 ? undefined : `${provider.name} ${parts.join(', ')}`;
}

/**
 * What the worker's wait note says, shortened: `orders wait up to 15 min, until 12:16:03`; any
 * other latest note is shown as the API wrote it (cut at 160 characters).
 */
export function noteText(sample: OrderSample, clock: (iso: string) => string): string | undefined {
  const note = [...sample.history]
    .reverse()
    .find((h) => h.note)
    ?.note?.trim();
  if (!note) return undefined;
  if (note.startsWith('waiting for a provider')) {
    const limit = /ORDER_MAX_WAIT ([^)]+)\)/.exec(note)?.[1];
    const until = /until (\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(note)?.[1];
    if (limit && until) return `orders wait up to ${limit}, until ${clock(until)}`;
    if (limit) return `orders wait up to ${limit}`;
    if (until) return `orders wait until ${clock(until)}`;
  }
  return `order ${sample.orderId}: ${note.length > 160 ? `${note.slice(0, 157)}...` : note}`;
}

/** `waiting: 120 queued, 0 pending; a1topup circuit open since 12:01:03 (orders wait up to 15 min)` */
export function waitReason(facts: WaitFacts): string {
  const { view } = facts;
  const clock = facts.clock ?? localClock;
  if (view.state === 'stored')
    return 'waiting: the file is stored and its import has not started (a worker takes it; is one running?)';
  if (view.state === 'importing')
    return `waiting: the import is at row ${view.rows.read} and has not moved (a worker is reading it; is it still running?)`;

  const queued = ordersIn(view, ['queued']);
  const pending = ordersIn(view, ['pending']);
  const processing = ordersIn(view, ['processing']);
  const counts = `${queued} queued, ${pending} pending${processing > 0 ? `, ${processing} processing` : ''}`;
  // Only the providers the batch's orders may go to, when a waiting order tells which.
  const route = facts.sample?.route ?? undefined;
  const troubles = (facts.providers ?? [])
    .filter((p) => !route || route.length === 0 || route.includes(p.name))
    .map((p) => providerTrouble(p, clock, facts.now))
    .filter((t): t is string => t !== undefined);
  const note = facts.sample ? noteText(facts.sample, clock) : undefined;

  let why: string | undefined;
  if (troubles.length > 0) {
    why = troubles.join('; ');
    if (note) why += note.startsWith('orders wait') ? ` (${note})` : `; ${note}`;
  } else if (note) {
    why = note;
  } else if (facts.providers === undefined) {
    why = 'provider health could not be read';
  } else if (queued > 0) {
    why = 'providers are up; no worker has taken the queued orders yet (is one running?)';
  } else if (pending > 0) {
    why = "pending orders wait for the provider's final answer (status checks, callbacks)";
  }
  return `waiting: ${counts}${why ? `; ${why}` : ''}`;
}
