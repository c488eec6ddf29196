import {
  type HistoryEntry,
  ORDER_STATES,
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
} from '@rechargeflow/domain';
import type { BatchStore } from '../batches/batch-store.ts';
import { LedgerConfigurationError, ProviderOrderIdConflictError } from '../ledger-errors.ts';
import { runScript } from '../redis/lua.ts';
import { enc, type RedisContext } from '../redis/redis-keys.ts';
import { asReply, unexpected } from '../redis/replies.ts';
import { scriptBatcher } from '../redis/script-batcher.ts';
import { creationEntry, historyEntry } from '../shared/history-entries.ts';
import { listKeyOf } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { encodeHistoryAround, encodeHistoryEntry } from './history-encoding.ts';
import type { CreateResult, NewOrder } from './new-order.ts';
import { validateClaimOptions } from './order-limits.ts';
import { createdOrder, newOrderRecord, storedFingerprint, storedRoute } from './order-record.ts';
import {
  APPEND_HISTORY,
  CLAIM_CHECKS,
  CREATE_ORDERS,
  TRANSITION,
  TRANSITION_MANY,
  UPGRADE_ORDERS,
} from './order-scripts.ts';
import type { ClaimChecksOptions, OrderStore, TransitionCommand, TransitionResult } from './order-store.ts';
import { redisOrderQueries, SCAN_CHUNK } from './redis-order-queries.ts';
import { existingOrArchived } from './redis-order-retention.ts';
import {
  decodeKnown,
  decodeParts,
  holdsHistory,
  parseJson,
  readOrder,
  requireOrder,
} from './redis-order-snapshot.ts';
import { assertCommand, reversalRecord, scheduleChange } from './transition-rules.ts';

/** Bumped when init() must bring older ledgers' indexes up to date (see UPGRADE_ORDERS). */
const LAYOUT_VERSION = '4';
/** Orders per create/link script: big enough for one round trip per import chunk, short enough not to stall Redis. */
export const CREATE_CHUNK = 1_000;

/**
 * The Redis orders (key layout: redis/redis-keys.ts; scripts: order-scripts.ts). Also creates
 * orders in bulk for the batch store (BatchStore.createOrders: the same script as createOrder).
 */
export function createRedisOrderStore(ctx: RedisContext): OrderStore & Pick<BatchStore, 'createOrders'> {
  const { redis, keys } = ctx;
  // Transitions started in the same turn of the event loop share one script run.
  const transitionScript = scriptBatcher(redis, TRANSITION, TRANSITION_MANY);

  /**
   * Creates orders CREATE_CHUNK at a time, one script each: every order is checked here before the
   * first script runs, and a created order is answered as sent (built exactly as it reads back),
   * so the script returns only the existing ones.
   */
  async function createOrders(orders: readonly NewOrder[]): Promise<CreateResult[]> {
    return (await createSettled(orders)).map((result) => {
      if (result instanceof Error) throw result;
      return result;
    });
  }

  /**
   * createOrders with each order's answer its own: an existing order that cannot be handed out
   * (archived, or unreadable) is that order's error, after the script has written the others.
   */
  async function createSettled(orders: readonly NewOrder[]): Promise<(CreateResult | Error)[]> {
    const prepared = orders.map((order) => {
      const record = newOrderRecord(order);
      const keyId = orderKeyId(order);
      const createdAtMs = timeMs(order.now, 'now');
      const entry = creationEntry(order.now);
      return { order, record, keyId, createdAtMs, entry };
    });
    const results: (CreateResult | Error)[] = [];
    for (let start = 0; start < prepared.length; start += CREATE_CHUNK) {
      const chunk = prepared.slice(start, start + CREATE_CHUNK);
      const batchKeys: string[] = [];
      const batchIndex = new Map<string, number>();
      const orderKeys: string[] = [];
      const args: (string | number)[] = [0];
      for (const { order, record, keyId, createdAtMs, entry } of chunk) {
        let batchArg = 0;
        if (order.batchId !== undefined) {
          batchArg = batchIndex.get(order.batchId) ?? 0;
          if (batchArg === 0) {
            batchArg = batchKeys.push(keys.batchStates(order.batchId));
            batchIndex.set(order.batchId, batchArg);
          }
        }
        orderKeys.push(
          keys.order(keyId),
          keys.history(keyId),
          keys.providerOrder(order.providerOrderId),
          keys.clientOrders(order.clientId),
        );
        args.push(
          keyId,
          listKeyOf(keyId, createdAtMs),
          createdAtMs,
          encodeHistoryEntry(entry),
          order.clientId,
          order.orderId,
          order.providerOrderId,
          order.provider,
          storedRoute(JSON.stringify(record.route), order.provider),
          JSON.stringify(record.request),
          storedFingerprint(order.fingerprint, record.request),
          order.now,
          order.batchId ?? '',
          batchArg,
          order.batchId === undefined ? '' : enc(order.batchId),
        );
      }
      args[0] = batchKeys.length;
      const reply = await runScript(
        redis,
        CREATE_ORDERS,
        [keys.clients, keys.stateUpdated('queued'), ...batchKeys, ...orderKeys],
        args,
      );
      if (!Array.isArray(reply)) unexpected('create-orders', reply);
      if (reply[0] === 'provider_order_id_taken') {
        const culprit = chunk[Number(reply[1]) - 1];
        throw new ProviderOrderIdConflictError(culprit?.order.providerOrderId ?? '');
      }
      const answers: unknown = reply[1];
      if (reply[0] !== 'done' || !Array.isArray(answers) || answers.length !== chunk.length) {
        unexpected('create-orders', reply);
      }
      chunk.forEach(({ order, record, entry }, i) => {
        const answer: unknown = answers[i];
        try {
          results.push(
            answer === 1
              ? { created: true, order: createdOrder(order, record, entry) }
              : // Retention hook: a key archived (its tombstone stands) is refused, not re-created.
                { created: false, order: existingOrArchived(answer, order) },
          );
        } catch (error) {
          results.push(error instanceof Error ? error : new Error(String(error)));
        }
      });
    }
    return results;
  }

  /**
   * Single creations started in the same turn of the event loop (an API under load) go in one
   * CREATE_ORDERS run, each answered as if alone: one script, one MSET and one ZADD per index for
   * all of them. An existing order that cannot be handed out (archived) is only its own caller's
   * error. A refusal that writes nothing for the whole run — a providerOrderId held by another
   * order, an invalid order — is found again by running each alone, so it is only that order's
   * answer.
   */
  const creates: {
    order: NewOrder;
    resolve: (result: CreateResult) => void;
    reject: (error: unknown) => void;
  }[] = [];
  async function flushCreates(): Promise<void> {
    const run = creates.splice(0, CREATE_CHUNK);
    if (creates.length > 0) setImmediate(flushCreates);
    try {
      const results = await createSettled(run.map(({ order }) => order));
      run.forEach(({ resolve, reject }, i) => {
        const result = results[i];
        if (result === undefined) reject(new Error('create-orders: an answer is missing'));
        else if (result instanceof Error) reject(result);
        else resolve(result);
      });
    } catch (error) {
      const wroteNothing = error instanceof ProviderOrderIdConflictError || error instanceof RangeError;
      if (run.length > 1 && wroteNothing) {
        for (const { order, resolve, reject } of run) {
          createOrders([order]).then(([result]) => (result ? resolve(result) : reject(error)), reject);
        }
      } else for (const { reject } of run) reject(error);
    }
  }

  /**
   * The order a transition left: its hash as the script answered it (holding the whole history,
   * since layout 3), and for an older order its history list up to the entry the script appended.
   * The list is append-only, so when the caller read it with one entry fewer, that plus our entry
   * is exact; otherwise its first `length` entries are read.
   */
  async function appliedOrder(
    keyId: string,
    flat: unknown,
    lengthReply: unknown,
    entryJson: string,
    known: readonly HistoryEntry[] | undefined,
  ): Promise<Order> {
    const length = Number(lengthReply);
    if (!Number.isSafeInteger(length) || length < 1) return unexpected('transition', lengthReply);
    if (holdsHistory(flat)) return decodeParts(flat, []);
    const history: unknown[] =
      known !== undefined && known.length === length - 1
        ? [...known, parseJson(entryJson, 'history')]
        : (await redis.lrange(keys.history(keyId), 0, length - 1)).map((entry) =>
            parseJson(entry, 'history'),
          );
    return decodeParts(flat, history);
  }

  return {
    createOrders,

    createOrder(order: NewOrder): Promise<CreateResult> {
      return new Promise((resolve, reject) => {
        creates.push({ order, resolve, reject });
        if (creates.length === 1) setImmediate(flushCreates);
      });
    },

    getOrder(key: OrderKey) {
      return readOrder(ctx, orderKeyId(key));
    },

    async getOrderByProviderOrderId(providerOrderId: string) {
      // The claim is never moved or removed once set, so two steps cannot race.
      const keyId = await redis.get(keys.providerOrder(providerOrderId));
      return keyId === null ? null : readOrder(ctx, keyId);
    },

    async transition(key: OrderKey, command: TransitionCommand): Promise<TransitionResult> {
      assertCommand(command);
      const keyId = orderKeyId(key);
      const from = command.expect.state;
      const { patch } = command;
      const patchFields: string[] = [];
      if (patch?.inFlight !== undefined) patchFields.push('inFlight', patch.inFlight ? '1' : '0');
      if (patch?.providerTxId !== undefined) patchFields.push('providerTxId', patch.providerTxId);
      if (patch?.providerRef !== undefined) patchFields.push('providerRef', patch.providerRef);
      if (patch?.providerStatus !== undefined) patchFields.push('providerStatus', patch.providerStatus);
      if (patch?.reversal !== undefined)
        patchFields.push('reversal', JSON.stringify(reversalRecord(patch.reversal)));
      const schedule = scheduleChange(command);
      const expectInFlight = command.expect.inFlight;
      const target = patch?.switchProvider;
      const book = patch?.bookAttempt;
      const entryJson = encodeHistoryEntry(historyEntry(from, command.to, command.entry));
      const known =
        command.known !== undefined &&
        command.known.clientId === key.clientId &&
        command.known.orderId === key.orderId
          ? command.known
          : undefined;
      const reply = await transitionScript(
        keyId,
        [
          keys.order(keyId),
          keys.history(keyId),
          keys.stateUpdated(from),
          keys.stateUpdated(command.to),
          keys.due,
          keys.webhookOutbox,
          // Declared only when used: every key a script touches is among its KEYS (cluster).
          ...(target === undefined ? [] : [keys.providerOrder(target.providerOrderId)]),
          ...(book === undefined ? [] : [keys.providerOrder(book.providerOrderId)]),
        ],
        [
          from,
          expectInFlight === undefined ? '' : expectInFlight ? '1' : '0',
          command.to,
          command.entry.at,
          timeMs(command.entry.at, 'entry.at'),
          // `from` is exact: the script applies this only when the stored state equals it.
          entryJson,
          patch?.incrementAttempts === true ? '1' : '0',
          keyId,
          schedule.kind === 'none' ? '' : schedule.kind,
          schedule.kind === 'enter' || schedule.kind === 'reschedule' ? schedule.afterMs : 0,
          target?.provider ?? '',
          target?.providerOrderId ?? '',
          keys.batchStatesPrefix,
          command.expect.providerOrderId ?? '',
          command.expect.version === undefined ? '' : String(command.expect.version),
          book?.provider ?? '',
          book?.providerOrderId ?? '',
          known === undefined ? '' : known.history.length,
          // The creation entry (h1, history-encoding.ts) is a JSON array that starts with its time.
          known === undefined ? '' : JSON.stringify([known.createdAt]).slice(0, -1),
          ...patchFields,
        ],
      );
      const [status, snapshot] = asReply(reply);
      switch (status) {
        case 'applied_known':
          if (known === undefined) return unexpected('transition', reply);
          return {
            applied: true,
            order: decodeKnown(
              known,
              snapshot,
              (reply as unknown[])[3],
              parseJson(entryJson, 'history'),
              schedule.kind === 'leave',
            ),
          };
        case 'applied':
          return {
            applied: true,
            order: await appliedOrder(keyId, snapshot, (reply as unknown[])[2], entryJson, known?.history),
          };
        case 'conflict':
          return { applied: false, reason: 'conflict', order: requireOrder(snapshot) };
        case 'not_found':
          return { applied: false, reason: 'not_found' };
        case 'provider_not_in_route':
          throw new RangeError(
            `cannot move order ${key.clientId}/${key.orderId} to ${target?.provider ?? book?.provider}: not in its route`,
          );
        case 'provider_order_id_taken':
          throw new ProviderOrderIdConflictError(target?.providerOrderId ?? '');
        case 'attempt_not_held':
          throw new RangeError(
            `cannot book order ${key.clientId}/${key.orderId} on ${book?.providerOrderId}: not one of its attempts`,
          );
        default:
          return unexpected('transition', reply);
      }
    },

    async appendHistory(
      key: OrderKey,
      entry: Omit<HistoryEntry, 'from' | 'to'>,
      expect?: { readonly state: OrderState; readonly providerOrderId?: string | undefined },
    ): Promise<TransitionResult> {
      timeMs(entry.at, 'entry.at');
      // The script writes the state it reads as the entry's from and to, between head and tail.
      const { head, tail } = encodeHistoryAround(historyEntry('queued', 'queued', entry));
      const keyId = orderKeyId(key);
      const reply = await runScript(
        redis,
        APPEND_HISTORY,
        [keys.order(keyId), keys.history(keyId)],
        [head, tail, expect?.state ?? '', expect?.providerOrderId ?? ''],
      );
      const [status, snapshot] = asReply(reply);
      switch (status) {
        case 'appended':
          return { applied: true, order: requireOrder(snapshot) };
        case 'conflict':
          return { applied: false, reason: 'conflict', order: requireOrder(snapshot) };
        case 'not_found':
          return { applied: false, reason: 'not_found' };
        default:
          return unexpected('append-history', reply);
      }
    },

    async claimDueChecks(options: ClaimChecksOptions): Promise<readonly Order[]> {
      const { limit, intervals } = validateClaimOptions(options);
      const reply = await runScript(
        redis,
        CLAIM_CHECKS,
        [keys.due],
        [limit, keys.orderKeyPrefix, keys.historyKeyPrefix, ...intervals],
      );
      if (!Array.isArray(reply)) unexpected('claim-checks', reply);
      return reply.map(requireOrder);
    },

    ...redisOrderQueries(ctx),
  };
}

/**
 * Brings an older ledger's layout up to date (once; every step is idempotent, so a crash midway
 * only repeats it): layout 2 indexes orders written before the due-check set existed; layout 3
 * removes the per-client state lists no write keeps any more (orders written before it keep their
 * history list and `listKey`, which every reader still understands); layout 4 registers every
 * client that has orders (summaries walk their lists) and removes the list of every order by
 * creation (orders written before it keep `createdAt` and `fingerprint`, which readers use when
 * present).
 */
export async function upgradeOrderLayout(ctx: RedisContext): Promise<void> {
  const { redis, keys } = ctx;
  const layout = await redis.get(keys.layout);
  if (layout === LAYOUT_VERSION) return;
  // A later release's layout cannot be read by this one (a rollback past a layout change).
  if (layout !== null && Number(layout) > Number(LAYOUT_VERSION)) {
    throw new LedgerConfigurationError(
      `this Redis ledger has key layout ${layout}, written by a later release; this release reads layout ${LAYOUT_VERSION} and older: run the later release`,
    );
  }
  const from = layout === null ? 1 : Number(layout);
  if (!Number.isSafeInteger(from) || from < 1) {
    throw new LedgerConfigurationError(`this Redis ledger has an unknown key layout ${layout}`);
  }
  if (from < 2) await indexOldOrders(ctx);
  if (from < 3) {
    await eachKey(ctx, keys.oldClientStatePattern, async (found) => {
      await redis.unlink(...found);
    });
  }
  // Layout 4: every client with an order list registered, then the creation list removed.
  const listPrefix = keys.clientOrders('').slice(0, -':orders'.length);
  await eachKey(ctx, keys.clientOrdersPattern, async (found) => {
    const clientIds = found
      .map((key) => key.slice(listPrefix.length, -':orders'.length))
      .filter((encoded) => encoded !== '' && !encoded.includes(':'))
      .map((encoded) => decodeURIComponent(encoded));
    if (clientIds.length > 0) await redis.sadd(keys.clients, ...clientIds);
  });
  await redis.unlink(keys.oldCreatedList);
  await redis.set(keys.layout, LAYOUT_VERSION);
}

/** Calls `use` with each page of the keys SCAN finds for `pattern`. */
async function eachKey(
  ctx: RedisContext,
  pattern: string,
  use: (found: readonly string[]) => Promise<void>,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await ctx.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_CHUNK);
    cursor = next;
    if (found.length > 0) await use(found);
  } while (cursor !== '0');
}

/** Layout 2: every pending order in the due-check set. */
async function indexOldOrders(ctx: RedisContext): Promise<void> {
  const { redis, keys } = ctx;
  // Every order is in exactly one state set, but one that moves from a set not yet scanned to one
  // already scanned is missed by a pass: passes repeat until one indexes nothing (orders created
  // meanwhile are indexed at creation, so this ends once the old orders stop moving past it).
  for (let added = 1; added > 0; ) {
    added = 0;
    for (const state of ORDER_STATES) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.zscan(keys.stateUpdated(state), cursor, 'COUNT', SCAN_CHUNK);
        cursor = next;
        const keyIds = flat.filter((_, i) => i % 2 === 0);
        if (keyIds.length > 0) {
          added += Number(
            await runScript(redis, UPGRADE_ORDERS, [keys.due], [keys.orderKeyPrefix, ...keyIds]),
          );
        }
      } while (cursor !== '0');
    }
  }
}
