/**
 * How each `end-to-end` run ends: the books check. Rechargeflow: the simulator's books against the
 * ledger (testkit checkBooks: each charge once, on its own order's success; nothing sent twice; no
 * success without a charge), and every order sent in success. The hand-written pipeline has no
 * ledger: the simulator must have received each order sent exactly once, and charged it.
 */
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { checkBooks, type LedgerOrder, readBooks } from '@rechargeflow/testkit';
import type { Redis } from 'ioredis';
import { inLanes } from './http-client.ts';
import { fmt } from './lib.ts';

export interface BooksResult {
  readonly booksOk: boolean;
  /** In words: what was checked and found, or `**books check failed**: …` and each problem. */
  readonly books: string;
}

/** The hand-written pipeline has no ledger: the simulator must have charged each order sent exactly once. */
export async function handWrittenBooks(simUrl: string, orderIds: readonly string[]): Promise<BooksResult> {
  const books = await readBooks(simUrl);
  const sent = new Set(orderIds);
  const problems: string[] = [];
  const charged = books.filter((b) => b.charged).length;
  const twice = books.filter((b) => b.submissions > 1).length;
  const unknown = books.filter((b) => !sent.has(b.orderid)).length;
  if (books.length !== orderIds.length)
    problems.push(`the simulator received ${fmt(books.length)} orderids for ${fmt(orderIds.length)} orders`);
  if (charged !== orderIds.length)
    problems.push(`${fmt(charged)} charges for ${fmt(orderIds.length)} orders`);
  if (twice > 0) problems.push(`${fmt(twice)} orderids sent twice`);
  if (unknown > 0) problems.push(`${fmt(unknown)} orderids nobody sent`);
  return {
    booksOk: problems.length === 0,
    books:
      problems.length === 0
        ? `simulator: ${fmt(charged)} charges for ${fmt(orderIds.length)} orders, each orderid received once`
        : `**books check failed**: ${problems.join('; ')}`,
  };
}

/** The simulator's books against the ledger (testkit checkBooks), and every order sent in success. */
export async function rechargeflowBooks(
  redis: Redis,
  ledgerPrefix: string,
  simUrl: string,
  orderIds: readonly string[],
  clientId: string,
): Promise<BooksResult> {
  const ledger = createRedisLedgerStore({ redis, prefix: ledgerPrefix });
  const books = await readBooks(simUrl);
  const orders: LedgerOrder[] = [];
  let missing = 0;
  await inLanes(orderIds.length, 64, async (i) => {
    const order = await ledger.getOrder({ clientId, orderId: orderIds[i] ?? '' });
    if (order) orders.push(order);
    else missing += 1;
  });
  const byProviderOrderId = new Map<string, LedgerOrder | null>();
  await inLanes(books.length, 64, async (i) => {
    const orderid = books[i]?.orderid ?? '';
    byProviderOrderId.set(orderid, await ledger.getOrderByProviderOrderId(orderid));
  });
  const verdict = checkBooks({ books: { a1topup: books }, orders, byProviderOrderId });
  const problems = [...verdict.problems];
  if (missing > 0) problems.push(`${fmt(missing)} orders sent are not in the ledger`);
  const notSuccess = orders.filter((o) => o.state !== 'success').length;
  if (notSuccess > 0) problems.push(`${fmt(notSuccess)} orders not in success`);
  if (verdict.charges !== orderIds.length)
    problems.push(`${fmt(verdict.charges)} charges for ${fmt(orderIds.length)} orders`);
  return {
    booksOk: problems.length === 0,
    books:
      problems.length === 0
        ? `books: ${fmt(verdict.charges)} charges for ${fmt(orderIds.length)} orders, each on its own order's success; 0 sent twice, 0 success without a charge, 0 unknown`
        : `**books check failed**: ${problems.join('; ')}`,
  };
}
