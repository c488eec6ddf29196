/**
 * The books check: what each simulated provider says it received and charged (`GET /_sim/orders`)
 * against what the ledger says, after everything has settled. Shared by the real-process tests and
 * the chaos suite, so both mean the same by "0 sent twice, 0 disagreements". Types are structural:
 * the simulator's BookEntry and the domain's Order fit them without a dependency on either.
 */

/** One line of a simulated provider's books. */
export interface BookLine {
  readonly orderid: string;
  readonly status: string;
  /** The provider carried the recharge out and it stands. */
  readonly charged: boolean;
  readonly reversed?: boolean | undefined;
  /** Recharge requests that carried this orderid. */
  readonly submissions: number;
}

/** What the ledger holds for an order (the domain's Order fits). */
export interface LedgerOrder {
  readonly clientId: string;
  readonly orderId: string;
  readonly state: string;
  readonly provider: string;
  /** The current attempt's orderid. */
  readonly providerOrderId: string;
}

export interface BooksInput {
  /** Each provider's books, by provider name as the ledger writes it (`a1topup`, `a1topup_backup`). */
  readonly books: Readonly<Record<string, readonly BookLine[]>>;
  /** Every order of the run, as the ledger has it now. */
  readonly orders: readonly LedgerOrder[];
  /** The ledger's order for each orderid in the books (any attempt of it); null when none has it. */
  readonly byProviderOrderId: ReadonlyMap<string, LedgerOrder | null>;
}

export interface BooksVerdict {
  /** Orderids received, over every provider. */
  readonly received: number;
  readonly charges: number;
  /** Orderids a provider received more than once, or more than one provider received. */
  readonly sentTwice: readonly string[];
  /** Orderids a provider received that no order in the ledger has. */
  readonly unknown: readonly string[];
  /**
   * Charges the ledger does not record as the success (or the reversal) of that very attempt at
   * that provider: e.g. `failed` although the provider charged it, or success on another attempt.
   */
  readonly unrecorded: readonly string[];
  /** Orders charged by more than one orderid (two attempts, or two providers). */
  readonly chargedTwice: readonly string[];
  /** `success` orders whose current orderid their provider did not charge (or never received). */
  readonly successWithoutCharge: readonly string[];
  /** `reversed` orders their provider does not show reversed. */
  readonly reversedWithoutReversal: readonly string[];
  /** Charges held in `manual_review` on the charged attempt: for a person, not a disagreement. */
  readonly heldForReview: number;
  /** Orderids still pending at a provider: nothing is final about them yet. */
  readonly pendingAtProvider: readonly string[];
  /** Each failed check in words (empty: the books and the ledger agree). */
  readonly problems: readonly string[];
}

const keyOf = (o: LedgerOrder) => `${o.clientId}/${o.orderId}`;

function listed(what: string, items: readonly string[]): string {
  const shown = items.slice(0, 3).join(', ');
  return `${items.length} ${what} (${shown}${items.length > 3 ? ', …' : ''})`;
}

/** Compares the providers' books with the ledger; see BooksVerdict for what each list means. */
export function checkBooks(input: BooksInput): BooksVerdict {
  const sentTwice: string[] = [];
  const unknown: string[] = [];
  const unrecorded: string[] = [];
  const pendingAtProvider: string[] = [];
  const chargesPerOrder = new Map<string, string[]>();
  const receivedBy = new Map<string, string>();
  const line = new Map<string, BookLine>();
  let received = 0;
  let charges = 0;
  let heldForReview = 0;

  for (const [provider, entries] of Object.entries(input.books)) {
    for (const entry of entries) {
      received += 1;
      const other = receivedBy.get(entry.orderid);
      if (entry.submissions > 1 || other !== undefined)
        sentTwice.push(`${entry.orderid}${other ? ` (${other} and ${provider})` : ` x${entry.submissions}`}`);
      receivedBy.set(entry.orderid, provider);
      line.set(`${provider} ${entry.orderid}`, entry);
      if (entry.status === 'pending') pendingAtProvider.push(`${provider} ${entry.orderid}`);
      const order = input.byProviderOrderId.get(entry.orderid) ?? null;
      if (!order) {
        unknown.push(`${provider} ${entry.orderid}`);
        continue;
      }
      if (!entry.charged) continue;
      charges += 1;
      const key = keyOf(order);
      chargesPerOrder.set(key, [...(chargesPerOrder.get(key) ?? []), `${provider} ${entry.orderid}`]);
      const onThisAttempt = order.providerOrderId === entry.orderid && order.provider === provider;
      if (onThisAttempt && order.state === 'manual_review') heldForReview += 1;
      else if (!onThisAttempt || order.state !== 'success')
        unrecorded.push(
          `${provider} charged ${entry.orderid}; ledger: ${key} ${order.state} at ${order.provider} as ${order.providerOrderId}`,
        );
    }
  }

  const chargedTwice = [...chargesPerOrder]
    .filter(([, list]) => list.length > 1)
    .map(([key, list]) => `${key}: ${list.join(' + ')}`);
  const successWithoutCharge: string[] = [];
  const reversedWithoutReversal: string[] = [];
  for (const order of input.orders) {
    const entry = line.get(`${order.provider} ${order.providerOrderId}`);
    if (order.state === 'success' && !entry?.charged)
      successWithoutCharge.push(
        `${keyOf(order)} at ${order.provider} as ${order.providerOrderId}: provider ${entry ? entry.status : 'never received it'}`,
      );
    if (order.state === 'reversed' && !entry?.reversed)
      reversedWithoutReversal.push(`${keyOf(order)} at ${order.provider} as ${order.providerOrderId}`);
  }

  const problems: string[] = [];
  if (sentTwice.length > 0) problems.push(listed('orderids sent twice', sentTwice));
  if (unknown.length > 0) problems.push(listed('orderids received that the ledger does not know', unknown));
  if (unrecorded.length > 0) problems.push(listed('charges the ledger does not record', unrecorded));
  if (chargedTwice.length > 0) problems.push(listed('orders charged twice', chargedTwice));
  if (successWithoutCharge.length > 0)
    problems.push(listed('success orders without a charge', successWithoutCharge));
  if (reversedWithoutReversal.length > 0)
    problems.push(listed('reversed orders the provider did not reverse', reversedWithoutReversal));
  if (pendingAtProvider.length > 0)
    problems.push(listed('orderids still pending at a provider', pendingAtProvider));
  return {
    received,
    charges,
    sentTwice,
    unknown,
    unrecorded,
    chargedTwice,
    successWithoutCharge,
    reversedWithoutReversal,
    heldForReview,
    pendingAtProvider,
    problems,
  };
}

/** A simulator's books (`GET <simulator>/_sim/orders`). */
export async function readBooks(simulatorUrl: string): Promise<BookLine[]> {
  const res = await fetch(`${simulatorUrl}/_sim/orders`);
  if (!res.ok) throw new Error(`GET /_sim/orders: HTTP ${res.status}`);
  return ((await res.json()) as { orders: BookLine[] }).orders;
}

/** How the books check finds an orderid's order: the ledger's getOrderByProviderOrderId fits. */
export interface OrderByProviderOrderId {
  getOrderByProviderOrderId(providerOrderId: string): Promise<LedgerOrder | null>;
}

/**
 * The books check of a run with real processes in one call: reads each simulated provider's books
 * (`simulators`: provider name → simulator URL), finds every orderid they received in the ledger,
 * and compares them with `orders` (checkBooks). Answers the verdict and the books read.
 */
export async function checkSimulatorBooks(input: {
  readonly simulators: Readonly<Record<string, string>>;
  readonly orders: readonly LedgerOrder[];
  readonly ledger: OrderByProviderOrderId;
}): Promise<{
  readonly verdict: BooksVerdict;
  readonly books: Readonly<Record<string, readonly BookLine[]>>;
}> {
  const entries = await Promise.all(
    Object.entries(input.simulators).map(
      async ([provider, url]) => [provider, await readBooks(url)] as const,
    ),
  );
  const books = Object.fromEntries(entries);
  const received = entries.flatMap(([, lines]) => lines.map((line) => line.orderid));
  const found = await Promise.all(received.map((orderid) => input.ledger.getOrderByProviderOrderId(orderid)));
  const verdict = checkBooks({
    books,
    orders: input.orders,
    byProviderOrderId: new Map(received.map((orderid, i) => [orderid, found[i] ?? null])),
  });
  return { verdict, books };
}
