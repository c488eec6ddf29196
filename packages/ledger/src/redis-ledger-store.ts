import {
  type HistoryEntry,
  isOrderState,
  ORDER_STATES,
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
} from '@rechargeflow/domain';
import type { Redis } from 'ioredis';
import {
  BATCH_STATES,
  type Batch,
  type BatchPatch,
  type BatchState,
  type NewBatch,
  type RowResult,
  type UploadLease,
} from './batch-store.ts';
import {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from './ledger-errors.ts';
import {
  type BalanceSample,
  CALLBACK_OUTCOMES,
  type CallbackInput,
  type CallbackOutcome,
  type CallbackRecord,
  type ClaimChecksOptions,
  type CreateResult,
  type LedgerStore,
  type ListOrdersQuery,
  type NewOrder,
  type OrderPage,
  type ProviderSummary,
  type StateCount,
  type TransitionCommand,
  type TransitionResult,
} from './ledger-store.ts';
import {
  assertCommand,
  batchIdOfListKey,
  batchListKey,
  callbackId,
  createdWindow,
  creationEntry,
  decodeStaleCursor,
  encodeCursor,
  encodeStaleCursor,
  historyEntry,
  isBatchState,
  listKeyOf,
  reversalRecord,
  rowCommit,
  SummaryBuilder,
  scheduleChange,
  timeMs,
  validateBalanceSample,
  validateBatchListQuery,
  validateBatchPatch,
  validateCallbackInput,
  validateCallbackLimit,
  validateClaimOptions,
  validateFindBatchesLimit,
  validateListQuery,
  validateNewBatch,
  validateOutcome,
  validateStaleLimit,
  validateSweepUploadsLimit,
  validateUploadChunk,
  validateUploadLease,
} from './ledger-support.ts';
import { createdOrder, decodeOrder, decodeRequest, newOrderRecord } from './order-record.ts';
import {
  callbackFields,
  decodeBalanceSample,
  decodeBatch,
  decodeCallback,
  decodeRowChunk,
} from './records.ts';
import {
  ALL_SCRIPTS,
  APPEND_HISTORY,
  CLAIM_CHECKS,
  COMMIT_ROWS,
  CREATE_BATCH,
  CREATE_ORDERS,
  DISCARD_UPLOAD,
  LINK_ORDERS,
  PENDING_UPLOAD_BYTES,
  PUT_UPLOAD_CHUNK,
  READ_ORDERS,
  RECORD_BALANCE,
  RECORD_CALLBACK,
  runScript,
  SET_CALLBACK_OUTCOME,
  SWEEP_UPLOADS,
  TRANSITION,
  UPDATE_BATCH,
  UPGRADE_ORDERS,
} from './redis-scripts.ts';

/** Bumped when init() must bring older ledgers' indexes up to date (see UPGRADE_ORDERS). */
const LAYOUT_VERSION = '2';
/** Orders read per round trip when scanning (summaries, the upgrade): bounds memory per step. */
const SCAN_CHUNK = 500;
/** Orders per create/link script: big enough for one round trip per import chunk, short enough not to stall Redis. */
const CREATE_CHUNK = 1_000;
/** Row-result chunks fetched per round trip by readRows. */
const ROW_CHUNKS_PER_READ = 20;

export interface RedisLedgerStoreOptions {
  /** The caller owns the connection: the store never closes it. */
  readonly redis: Redis;
  /**
   * Every key starts with `${prefix}:`. On Redis Cluster, put a hash tag in it (e.g. `{rf}:ledger`)
   * so that all keys of one script live in one slot.
   */
  readonly prefix: string;
}

/**
 * Key layout (P = prefix; ids that come from callers are URI-encoded so `:` cannot forge a key):
 * - `P:order:<keyId>`               hash: the order's fields (request and route JSON-encoded; no
 *                                   route on orders written before routes) + `listKey`
 * - `P:history:<keyId>`             list: history entries, one JSON string each, oldest first
 * - `P:provider-order:<poid>`       string: keyId holding that providerOrderId (the unique claim;
 *                                   set by creation or a failover in the same script as the order's
 *                                   write, never moved or removed, so an id an order had before a
 *                                   failover still leads to it and can never be claimed again)
 * - `P:client:<clientId>:orders`    zset, all scores 0, members `listKey` (time:keyId): byte order
 *                                   is creation order, so ZRANGE BYLEX REV pages newest first
 * - `P:client:<clientId>:state:<s>` the same, only orders now in state s
 * - `P:state:<s>:updated`           zset, score updatedAt ms, member keyId: findStale
 * - `P:orders:created`              zset, all scores 0, members `listKey`: every order by creation
 *                                   (summaries page it BYLEX over a time window)
 * - `P:checks:due`                  zset, score nextCheckAt ms (server clock), member keyId: exactly
 *                                   the pending orders; claimDueChecks reads and moves them
 * - `P:callback:<id>`               hash: a provider callback (id = sha256 hex, see callbackId)
 * - `P:callbacks:<outcome>`         zset, score updatedAt ms, member callback id: findCallbacks
 * - `P:balance:<provider>`          zset, score sample time ms, member `<seq>|<sample JSON>`
 * - `P:balance-seq`                 string: the sequence of balance samples
 * - `P:meta:layout`                 string: the key layout version this ledger has been brought to
 * - `P:batch:<batchId>`             hash: a batch's fields + `listKey` (created ms + batchId)
 * - `P:batch:<batchId>:upload:<i>`  string: upload chunk i (raw bytes, ≤ 1 MiB); until the batch
 *                                   is created, with the upload's lease as its expiry
 * - `P:batch:<batchId>:upload-lease` hash: an upload not yet committed: clientId, chunks (highest
 *                                   index + 1), bytes, `s<i>` = chunk i's size; same expiry as its
 *                                   chunks (all renewed by each chunk); removed by createBatch
 * - `P:client:<clientId>:pending-uploads` hash: batch id -> bytes not yet imported (uploads in
 *                                   progress and batches stored/importing; a batch leaves when it
 *                                   is imported)
 * - `P:client:<clientId>:upload-leases` zset, score lease end ms (server clock), member batch id:
 *                                   the client's uploads in progress (an entry run out no longer
 *                                   counts, and is pruned by the client's next chunk or the sweep)
 * - `P:uploads:leases`              zset, score lease end ms, member `<clientId> <batchId>`:
 *                                   sweepUploads (batch ids in these three are URI-encoded)
 * - `P:batch:<batchId>:rows:<row>`  string: one commit's row results (JSON array), from `row` on
 * - `P:batch:<batchId>:row-chunks`  list: the first row of each commit, in commit (= input) order
 * - `P:batch:<batchId>:states`      hash: state → number of member orders in it now
 * - `P:client:<clientId>:batches`   zset, all scores 0, members a batch's `listKey`: newest first
 * - `P:client:<clientId>:batch-content:<contentHash>` string: the batch holding that content
 *                                   (the per-client dedupe claim, never moved or removed)
 * - `P:batches:state:<s>`           zset, score updatedAt ms, member batchId: findBatches
 * Order hashes of batch members hold `batches`: the URI-encoded ids of every batch the order
 * belongs to, space-separated; the create, transition and link scripts keep the batches' state
 * hashes in step with it in the same atomic write.
 * keyId is `orderKeyId({clientId, orderId})` from the domain. Order hashes also hold `statusChecks`
 * and, from the server's clock, `pendingSinceMs` and `nextCheckAtMs` (handed out as ISO).
 * Needs Redis >= 6.2 (ZRANGE BYLEX REV).
 */
export function createRedisLedgerStore(options: RedisLedgerStoreOptions): LedgerStore {
  const { redis } = options;
  const p = options.prefix;
  const enc = encodeURIComponent;
  const keys = {
    order: (keyId: string) => `${p}:order:${keyId}`,
    history: (keyId: string) => `${p}:history:${keyId}`,
    providerOrder: (providerOrderId: string) => `${p}:provider-order:${enc(providerOrderId)}`,
    clientOrders: (clientId: string) => `${p}:client:${enc(clientId)}:orders`,
    clientState: (clientId: string, state: OrderState) => `${p}:client:${enc(clientId)}:state:${state}`,
    stateUpdated: (state: OrderState) => `${p}:state:${state}:updated`,
    created: `${p}:orders:created`,
    due: `${p}:checks:due`,
    callback: (id: string) => `${p}:callback:${enc(id)}`,
    callbackIndex: (outcome: CallbackOutcome) => `${p}:callbacks:${outcome}`,
    balance: (provider: string) => `${p}:balance:${enc(provider)}`,
    balanceSeq: `${p}:balance-seq`,
    layout: `${p}:meta:layout`,
    batch: (batchId: string) => `${p}:batch:${enc(batchId)}`,
    upload: (batchId: string, index: number) => `${p}:batch:${enc(batchId)}:upload:${index}`,
    rows: (batchId: string, firstRow: number) => `${p}:batch:${enc(batchId)}:rows:${firstRow}`,
    rowChunks: (batchId: string) => `${p}:batch:${enc(batchId)}:row-chunks`,
    batchStates: (batchId: string) => `${p}:batch:${enc(batchId)}:states`,
    clientBatches: (clientId: string) => `${p}:client:${enc(clientId)}:batches`,
    batchContent: (clientId: string, contentHash: string) =>
      `${p}:client:${enc(clientId)}:batch-content:${enc(contentHash)}`,
    batchesInState: (state: BatchState) => `${p}:batches:state:${state}`,
    uploadLease: (batchId: string) => `${p}:batch:${enc(batchId)}:upload-lease`,
    uploadChunkPrefix: (batchId: string) => `${p}:batch:${enc(batchId)}:upload:`,
    pendingUploads: (clientId: string) => `${p}:client:${enc(clientId)}:pending-uploads`,
    clientUploadLeases: (clientId: string) => `${p}:client:${enc(clientId)}:upload-leases`,
    uploadLeases: `${p}:uploads:leases`,
  };
  /** An upload's member in the sweep's leases: both ids encoded, so the space cannot be forged. */
  const leaseMember = (clientId: string, batchId: string) => `${enc(clientId)} ${enc(batchId)}`;
  // The transition script builds batch-state keys from the ids an order lists: prefix + id + suffix.
  const batchStatesPrefix = `${p}:batch:`;
  // The claim and upgrade scripts build order keys from the ids they find: keys.order(id) = prefix + id.
  const orderKeyPrefix = keys.order('');
  const historyKeyPrefix = keys.history('');

  async function readOrders(keyIds: readonly string[]): Promise<(Order | null)[]> {
    if (keyIds.length === 0) return [];
    const scriptKeys = keyIds.flatMap((keyId) => [keys.order(keyId), keys.history(keyId)]);
    const reply = await runScript(redis, READ_ORDERS, scriptKeys, []);
    if (!Array.isArray(reply) || reply.length !== keyIds.length) unexpected('read-orders', reply);
    return reply.map((snapshot) => decodeSnapshot(snapshot));
  }

  async function readOrder(keyId: string): Promise<Order | null> {
    const [order] = await readOrders([keyId]);
    return order ?? null;
  }

  async function readCallbacks(ids: readonly string[]): Promise<(CallbackRecord | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.callback(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return decodeCallbackHash(hash);
    });
  }

  /**
   * Creates orders CREATE_CHUNK at a time, one script each: every order is checked here before the
   * first script runs, and a created order is answered as sent (built exactly as it reads back),
   * so the script returns only the existing ones.
   */
  async function createOrders(orders: readonly NewOrder[]): Promise<CreateResult[]> {
    const prepared = orders.map((order) => {
      const record = newOrderRecord(order);
      const keyId = orderKeyId(order);
      const createdAtMs = timeMs(order.now, 'now');
      const entry = creationEntry(order.now);
      return { order, record, keyId, createdAtMs, entry };
    });
    const results: CreateResult[] = [];
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
          keys.clientState(order.clientId, 'queued'),
        );
        args.push(
          keyId,
          listKeyOf(keyId, createdAtMs),
          createdAtMs,
          JSON.stringify(entry),
          order.clientId,
          order.orderId,
          order.providerOrderId,
          order.provider,
          JSON.stringify(record.route),
          JSON.stringify(record.request),
          order.fingerprint,
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
        [keys.created, keys.stateUpdated('queued'), ...batchKeys, ...orderKeys],
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
        results.push(
          answer === 1
            ? { created: true, order: createdOrder(order, record, entry) }
            : { created: false, order: requireOrder(answer) },
        );
      });
    }
    return results;
  }

  async function readBatch(batchId: string): Promise<Batch | null> {
    return decodeBatchHash(await redis.hgetall(keys.batch(batchId)));
  }

  async function readBatches(batchIds: readonly string[]): Promise<(Batch | null)[]> {
    if (batchIds.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const batchId of batchIds) pipeline.hgetall(keys.batch(batchId));
    return ((await pipeline.exec()) ?? []).map(([error, hash]) => {
      if (error) throw error;
      return decodeBatchHash(hash);
    });
  }

  /** Indexes orders written before the creation list and the due-check set existed (once). */
  async function upgradeLayout(): Promise<void> {
    if ((await redis.get(keys.layout)) === LAYOUT_VERSION) return;
    // Every order is in exactly one state set; an order that moves during the scan is indexed by
    // its transition instead (the transition script adds it to the creation list).
    for (const state of ORDER_STATES) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.zscan(keys.stateUpdated(state), cursor, 'COUNT', SCAN_CHUNK);
        cursor = next;
        const keyIds = flat.filter((_, i) => i % 2 === 0);
        if (keyIds.length > 0) {
          await runScript(redis, UPGRADE_ORDERS, [keys.due, keys.created], [orderKeyPrefix, ...keyIds]);
        }
      } while (cursor !== '0');
    }
    await redis.set(keys.layout, LAYOUT_VERSION);
  }

  return {
    async init() {
      await assertNoEviction(redis);
      // Loading up front surfaces a script error at start-up rather than on the first order.
      for (const lua of ALL_SCRIPTS) {
        const sha = await redis.script('LOAD', lua.lua);
        if (sha !== lua.sha)
          throw new LedgerConfigurationError(`Redis loaded ${lua.name} under an unexpected sha`);
      }
      await upgradeLayout();
    },

    async createOrder(order: NewOrder): Promise<CreateResult> {
      const [result] = await createOrders([order]);
      return result ?? unexpected('create-orders', result);
    },

    getOrder(key: OrderKey) {
      return readOrder(orderKeyId(key));
    },

    async getOrderByProviderOrderId(providerOrderId: string) {
      // The claim is never moved or removed once set, so two steps cannot race.
      const keyId = await redis.get(keys.providerOrder(providerOrderId));
      return keyId === null ? null : readOrder(keyId);
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
      const reply = await runScript(
        redis,
        TRANSITION,
        [
          keys.order(keyId),
          keys.history(keyId),
          keys.clientState(key.clientId, from),
          keys.clientState(key.clientId, command.to),
          keys.stateUpdated(from),
          keys.stateUpdated(command.to),
          keys.due,
          keys.created,
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
          JSON.stringify(historyEntry(from, command.to, command.entry)),
          patch?.incrementAttempts === true ? '1' : '0',
          keyId,
          schedule.kind === 'none' ? '' : schedule.kind,
          schedule.kind === 'enter' || schedule.kind === 'reschedule' ? schedule.afterMs : 0,
          target?.provider ?? '',
          target?.providerOrderId ?? '',
          batchStatesPrefix,
          command.expect.providerOrderId ?? '',
          command.expect.version === undefined ? '' : String(command.expect.version),
          book?.provider ?? '',
          book?.providerOrderId ?? '',
          ...patchFields,
        ],
      );
      const [status, snapshot] = asReply(reply);
      switch (status) {
        case 'applied':
          return { applied: true, order: requireOrder(snapshot) };
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

    async listOrders(clientId: string, query: ListOrdersQuery): Promise<OrderPage> {
      const { limit, after } = validateListQuery(query);
      const index =
        query.state === undefined ? keys.clientOrders(clientId) : keys.clientState(clientId, query.state);
      // One more than asked tells whether another page exists.
      const members = await redis.zrange(
        index,
        after === undefined ? '+' : `(${after}`,
        '-',
        'BYLEX',
        'REV',
        'LIMIT',
        0,
        limit + 1,
      );
      const page = members.slice(0, limit);
      const orders = await readOrders(page.map(keyIdOfListKey));
      // An order may change state between the index read and the order read: never show it under
      // a state it is no longer in.
      const shown = orders.filter(
        (order): order is Order =>
          order !== null && (query.state === undefined || order.state === query.state),
      );
      const last = page.at(-1);
      return members.length > limit && last !== undefined
        ? { orders: shown, nextCursor: encodeCursor(last) }
        : { orders: shown };
    },

    async findStale(state: OrderState, updatedBefore: string, limit: number): Promise<readonly Order[]> {
      validateStaleLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const keyIds = await redis.zrangebyscore(
        keys.stateUpdated(state),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      const orders = await readOrders(keyIds);
      return orders.filter(
        (order): order is Order =>
          order !== null && order.state === state && timeMs(order.updatedAt, 'updatedAt') < before,
      );
    },

    async scanStale(
      state: OrderState,
      updatedBefore: string,
      limit: number,
      cursor?: string | undefined,
    ): Promise<OrderPage> {
      validateStaleLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const after = cursor === undefined ? undefined : decodeStaleCursor(cursor);
      // Members of one score are in member order, so (score, keyId) is a strict position. A page
      // starts at the cursor's score and skips that score's members at or before its keyId; many
      // orders share one millisecond (a batch import), so the read moves on past what it skipped
      // until the page is full or the range ends.
      const positions: { keyId: string; ms: number }[] = [];
      let offset = 0;
      let exhausted = false;
      while (positions.length <= limit && !exhausted) {
        const want = limit + 1 - positions.length;
        const flat = await redis.zrangebyscore(
          keys.stateUpdated(state),
          after === undefined ? '-inf' : String(after.ms),
          `(${before}`,
          'WITHSCORES',
          'LIMIT',
          offset,
          want,
        );
        offset += flat.length / 2;
        exhausted = flat.length / 2 < want;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const keyId = flat[i]!;
          const ms = Number(flat[i + 1]);
          if (after !== undefined && ms === after.ms && keyId <= after.tie) continue;
          positions.push({ keyId, ms });
        }
      }
      const page = positions.slice(0, limit);
      const orders = await readOrders(page.map((p) => p.keyId));
      const shown = orders.filter(
        (order): order is Order =>
          order !== null && order.state === state && timeMs(order.updatedAt, 'updatedAt') < before,
      );
      const last = page.at(-1);
      return positions.length > limit && last !== undefined
        ? { orders: shown, nextCursor: encodeStaleCursor({ ms: last.ms, tie: last.keyId }) }
        : { orders: shown };
    },

    async appendHistory(
      key: OrderKey,
      entry: Omit<HistoryEntry, 'from' | 'to'>,
      expect?: { readonly state: OrderState; readonly providerOrderId?: string | undefined },
    ): Promise<TransitionResult> {
      timeMs(entry.at, 'entry.at');
      // from/to are placeholders: the script writes the state it reads in their place.
      const json = JSON.stringify(historyEntry('queued', 'queued', entry));
      const head = JSON.stringify({ at: entry.at }).slice(0, -1);
      const tail = json.slice(json.indexOf(',"source":'));
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

    async clock(): Promise<Date> {
      const [seconds, micros] = await redis.time();
      return new Date(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
    },

    async countInState(state: OrderState): Promise<StateCount> {
      const key = keys.stateUpdated(state);
      const [count, oldest] = await Promise.all([
        redis.zcard(key),
        redis.zrange(key, '0', '0', 'WITHSCORES'),
      ]);
      const score = oldest[1];
      return { count, oldestChangeAt: score === undefined ? null : new Date(Number(score)).toISOString() };
    },

    async claimDueChecks(options: ClaimChecksOptions): Promise<readonly Order[]> {
      const { limit, intervals } = validateClaimOptions(options);
      const reply = await runScript(
        redis,
        CLAIM_CHECKS,
        [keys.due],
        [limit, orderKeyPrefix, historyKeyPrefix, ...intervals],
      );
      if (!Array.isArray(reply)) unexpected('claim-checks', reply);
      return reply.map(requireOrder);
    },

    async recordCallback(input: CallbackInput) {
      validateCallbackInput(input);
      const id = callbackId(input);
      const fields: Record<string, string> = {
        id,
        ...callbackFields(input),
        outcome: 'received' satisfies CallbackOutcome,
        copies: '1',
        updatedAt: input.receivedAt,
      };
      const reply = await runScript(
        redis,
        RECORD_CALLBACK,
        [keys.callback(id), keys.callbackIndex('received')],
        [id, timeMs(input.receivedAt, 'receivedAt'), ...Object.entries(fields).flat()],
      );
      const [status, flat] = asReply(reply);
      if (status !== 'created' && status !== 'exists') unexpected('record-callback', reply);
      const record = decodeCallbackHash(flatToHash(flat));
      if (record === null) return unexpected('record-callback', reply);
      return { record, isNew: status === 'created' };
    },

    async setCallbackOutcome(id: string, outcome: CallbackOutcome, note: string | undefined, at: string) {
      validateOutcome(outcome);
      const atMs = timeMs(at, 'at');
      const reply = await runScript(
        redis,
        SET_CALLBACK_OUTCOME,
        [keys.callback(id), ...CALLBACK_OUTCOMES.map(keys.callbackIndex)],
        [
          id,
          CALLBACK_OUTCOMES.indexOf(outcome) + 2,
          outcome,
          at,
          atMs,
          note === undefined ? '0' : '1',
          note ?? '',
        ],
      );
      const [status] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no stored callback has the id ${id}`);
      if (status !== 'updated') unexpected('set-callback-outcome', reply);
    },

    async getCallback(id: string) {
      const [record] = await readCallbacks([id]);
      return record ?? null;
    },

    async findCallbacks(outcome: CallbackOutcome, updatedBefore: string, limit: number) {
      validateOutcome(outcome);
      validateCallbackLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const ids = await redis.zrangebyscore(
        keys.callbackIndex(outcome),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      const records = await readCallbacks(ids);
      // A callback may change between the index read and the record read: show it only as it is now.
      return records.filter(
        (record): record is CallbackRecord =>
          record !== null && record.outcome === outcome && timeMs(record.updatedAt, 'updatedAt') < before,
      );
    },

    async recordBalance(sample: BalanceSample) {
      const atMs = validateBalanceSample(sample);
      const stored: BalanceSample = { provider: sample.provider, balance: sample.balance, at: sample.at };
      await runScript(
        redis,
        RECORD_BALANCE,
        [keys.balance(sample.provider), keys.balanceSeq],
        [atMs, JSON.stringify(stored)],
      );
    },

    async balanceAt(provider: string, at: string) {
      const atMs = timeMs(at, 'at');
      // Highest time at or before `at`; among one millisecond's samples the last recorded.
      const [member] = await redis.zrevrangebyscore(keys.balance(provider), atMs, '-inf', 'LIMIT', 0, 1);
      if (member === undefined) return null;
      const json = member.slice(member.indexOf('|') + 1);
      return decodeBalanceSample(record(parseStored(json, 'stored balance sample is invalid')));
    },

    async summarize(from: string, to: string): Promise<readonly ProviderSummary[]> {
      const { lower, upper } = createdWindow(from, to);
      const summary = new SummaryBuilder();
      if (lower >= upper) return summary.build();
      // Pages the creation list by list key, each page after the last one seen: orders created
      // meanwhile can neither shift nor repeat a page.
      let start = `[${lower}`;
      for (;;) {
        const members = await redis.zrange(keys.created, start, `(${upper}`, 'BYLEX', 'LIMIT', 0, SCAN_CHUNK);
        if (members.length === 0) break;
        const pipeline = redis.pipeline();
        for (const member of members) {
          pipeline.hmget(keys.order(keyIdOfListKey(member)), 'provider', 'state', 'request');
        }
        for (const [error, fields] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          const [provider, state, request] = Array.isArray(fields) ? (fields as unknown[]) : [];
          if (provider === null && state === null) continue;
          if (typeof provider !== 'string' || !isOrderState(state)) {
            throw new LedgerCorruptionError('stored order has an invalid provider or state');
          }
          summary.add(provider, state, 1, decodeRequest(parseJson(request, 'request')).amount);
        }
        if (members.length < SCAN_CHUNK) break;
        start = `(${members.at(-1)}`;
      }
      return summary.build();
    },

    async createBatch(batch: NewBatch) {
      const createdAtMs = validateNewBatch(batch);
      const fields: Record<string, string | number> = {
        clientId: batch.clientId,
        batchId: batch.batchId,
        contentHash: batch.contentHash,
        bytes: batch.bytes,
        createdAt: batch.createdAt,
        state: 'stored' satisfies BatchState,
        rowsRead: 0,
        accepted: 0,
        rejected: 0,
        rowsCommitted: 0,
        updatedAt: batch.createdAt,
        listKey: batchListKey(batch.batchId, createdAtMs),
      };
      if (batch.filename !== undefined) fields.filename = batch.filename;
      const reply = await runScript(
        redis,
        CREATE_BATCH,
        [
          keys.batchContent(batch.clientId, batch.contentHash),
          keys.batch(batch.batchId),
          keys.clientBatches(batch.clientId),
          keys.batchesInState('stored'),
          keys.uploadLease(batch.batchId),
          keys.pendingUploads(batch.clientId),
          keys.clientUploadLeases(batch.clientId),
          keys.uploadLeases,
        ],
        [
          batch.batchId,
          batchListKey(batch.batchId, createdAtMs),
          createdAtMs,
          keys.uploadChunkPrefix(batch.batchId),
          leaseMember(batch.clientId, batch.batchId),
          enc(batch.batchId),
          batch.bytes,
          ...Object.entries(fields).flat(),
        ],
      );
      const [status, value] = asReply(reply);
      if (status === 'batch_id_taken') throw new RangeError(`batchId ${batch.batchId} is taken`);
      if (status === 'created') {
        return {
          created: true,
          batch: decodeBatchHash(flatToHash(value)) ?? unexpected('create-batch', reply),
        };
      }
      if (status !== 'exists' || typeof value !== 'string') return unexpected('create-batch', reply);
      // The claim is never moved or removed, nor its batch: reading it in a second step is safe.
      const existing = await readBatch(value);
      return { created: false, batch: existing ?? unexpected('create-batch', reply) };
    },

    async putUploadChunk(batchId: string, index: number, data: Buffer, lease: UploadLease) {
      validateUploadChunk(index, data);
      validateUploadLease(lease);
      const reply = await runScript(
        redis,
        PUT_UPLOAD_CHUNK,
        [
          keys.batch(batchId),
          keys.uploadLease(batchId),
          keys.upload(batchId, index),
          keys.pendingUploads(lease.clientId),
          keys.clientUploadLeases(lease.clientId),
          keys.uploadLeases,
        ],
        [
          enc(batchId),
          index,
          data,
          lease.clientId,
          lease.leaseMs,
          lease.maxPendingBytes ?? '',
          keys.uploadChunkPrefix(batchId),
          leaseMember(lease.clientId, batchId),
        ],
      );
      const [status, value] = asReply(reply);
      switch (status) {
        case 'stored':
          return;
        case 'committed':
          throw new RangeError(`batch ${batchId} is stored already: its upload cannot change`);
        case 'other_client':
          throw new RangeError(`the upload of batch ${batchId} belongs to another client`);
        case 'expired':
          throw new UploadLeaseExpiredError(
            `the upload of batch ${batchId} holds no chunk any more (its lease ran out): start it again`,
            { context: { batchId, index } },
          );
        case 'over_limit':
          throw new UploadQuotaError(lease.maxPendingBytes ?? 0, Number(value));
        default:
          unexpected('put-upload-chunk', reply);
      }
    },

    async discardUpload(clientId: string, batchId: string) {
      const reply = await runScript(
        redis,
        DISCARD_UPLOAD,
        [
          keys.batch(batchId),
          keys.uploadLease(batchId),
          keys.pendingUploads(clientId),
          keys.clientUploadLeases(clientId),
          keys.uploadLeases,
        ],
        [keys.uploadChunkPrefix(batchId), enc(batchId), leaseMember(clientId, batchId), clientId],
      );
      const [status] = asReply(reply);
      if (status !== 'dropped' && status !== 'committed' && status !== 'other_client') {
        unexpected('discard-upload', reply);
      }
    },

    async sweepUploads(limit: number) {
      validateSweepUploadsLimit(limit);
      const reply = await runScript(redis, SWEEP_UPLOADS, [keys.uploadLeases], [`${p}:`, limit]);
      if (typeof reply !== 'number') return unexpected('sweep-uploads', reply);
      return reply;
    },

    async pendingUploadBytes(clientId: string) {
      const reply = await runScript(
        redis,
        PENDING_UPLOAD_BYTES,
        [keys.pendingUploads(clientId), keys.clientUploadLeases(clientId)],
        [],
      );
      const bytes = Number(reply);
      if (typeof reply !== 'string' || !Number.isSafeInteger(bytes)) {
        return unexpected('pending-upload-bytes', reply);
      }
      return bytes;
    },

    async *readUpload(batchId: string) {
      const batch = await readBatch(batchId);
      let bytes = 0;
      for (let index = 0; ; index += 1) {
        const chunk = await redis.getBuffer(keys.upload(batchId, index));
        if (chunk === null) break;
        bytes += chunk.length;
        yield chunk;
      }
      if (batch !== null && bytes !== batch.bytes) throw incompleteUpload(batchId, bytes, batch.bytes);
    },

    async getBatch(clientId: string, batchId: string) {
      const batch = await readBatch(batchId);
      return batch !== null && batch.clientId === clientId ? batch : null;
    },

    async listBatches(clientId: string, query: { limit: number; cursor?: string | undefined }) {
      const { limit, after } = validateBatchListQuery(query);
      const members = await redis.zrange(
        keys.clientBatches(clientId),
        after === undefined ? '+' : `(${after}`,
        '-',
        'BYLEX',
        'REV',
        'LIMIT',
        0,
        limit + 1,
      );
      const page = members.slice(0, limit);
      const batches = (await readBatches(page.map(batchIdOfListKey))).filter(
        (batch): batch is Batch => batch !== null && batch.clientId === clientId,
      );
      const last = page.at(-1);
      return members.length > limit && last !== undefined
        ? { batches, nextCursor: encodeCursor(last) }
        : { batches };
    },

    async findBatches(state: BatchState, updatedBefore: string, limit: number) {
      validateFindBatchesLimit(limit);
      if (!isBatchState(state)) throw new RangeError(`not a batch state: ${JSON.stringify(state)}`);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const batchIds = await redis.zrangebyscore(
        keys.batchesInState(state),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      // A batch may change between the index read and the batch read: show it only as it is now.
      return (await readBatches(batchIds)).filter(
        (batch): batch is Batch =>
          batch !== null && batch.state === state && timeMs(batch.updatedAt, 'updatedAt') < before,
      );
    },

    async updateBatch(batchId: string, patch: BatchPatch, at: string) {
      const atMs = validateBatchPatch(patch, at);
      const fields: (string | number)[] = [];
      if (patch.rowsRead !== undefined) fields.push('rowsRead', patch.rowsRead);
      if (patch.error !== undefined) fields.push('error', patch.error);
      // The batch's client names its pending upload bytes (a batch never changes client).
      const clientId = await redis.hget(keys.batch(batchId), 'clientId');
      if (clientId === null) throw new RangeError(`no batch has the id ${batchId}`);
      const reply = await runScript(
        redis,
        UPDATE_BATCH,
        [keys.batch(batchId), ...BATCH_STATES.map(keys.batchesInState), keys.pendingUploads(clientId)],
        [batchId, at, atMs, patch.state ?? '', ...BATCH_STATES, enc(batchId), ...fields],
      );
      const [status, flat] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no batch has the id ${batchId}`);
      if (status !== 'updated') return unexpected('update-batch', reply);
      return decodeBatchHash(flatToHash(flat)) ?? unexpected('update-batch', reply);
    },

    async commitRows(batchId: string, results: readonly RowResult[], at: string) {
      const commit = rowCommit(results);
      const atMs = timeMs(at, 'at');
      const reply = await runScript(
        redis,
        COMMIT_ROWS,
        [
          keys.batch(batchId),
          keys.rows(batchId, commit.firstRow),
          keys.rowChunks(batchId),
          ...BATCH_STATES.map(keys.batchesInState),
        ],
        [
          batchId,
          commit.firstRow,
          commit.rows.length,
          commit.accepted,
          commit.rejected,
          at,
          atMs,
          JSON.stringify(commit.rows),
          ...BATCH_STATES,
        ],
      );
      const [status] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no batch has the id ${batchId}`);
      if (status !== 'committed' && status !== 'stale') return unexpected('commit-rows', reply);
      return status === 'committed';
    },

    async *readRows(batchId: string) {
      // Committed chunks only ever append to the list, so paging it by position is stable.
      for (let start = 0; ; start += ROW_CHUNKS_PER_READ) {
        const firstRows = await redis.lrange(keys.rowChunks(batchId), start, start + ROW_CHUNKS_PER_READ - 1);
        if (firstRows.length === 0) return;
        const chunks = await redis.mget(...firstRows.map((row) => keys.rows(batchId, Number(row))));
        for (const chunk of chunks) {
          yield decodeRowChunk(parseStored(chunk, 'stored row results are invalid'));
        }
        if (firstRows.length < ROW_CHUNKS_PER_READ) return;
      }
    },

    createOrders,

    async linkOrders(batchId: string, orderKeys: readonly OrderKey[]) {
      for (let start = 0; start < orderKeys.length; start += CREATE_CHUNK) {
        const chunk = orderKeys.slice(start, start + CREATE_CHUNK);
        await runScript(
          redis,
          LINK_ORDERS,
          [keys.batchStates(batchId), ...chunk.map((key) => keys.order(orderKeyId(key)))],
          [enc(batchId)],
        );
      }
    },

    async batchStates(batchId: string) {
      const counts: Partial<Record<OrderState, number>> = {};
      for (const [state, value] of Object.entries(await redis.hgetall(keys.batchStates(batchId)))) {
        const count = Number(value);
        if (!isOrderState(state) || !Number.isSafeInteger(count) || count < 0) {
          throw new LedgerCorruptionError('stored batch state counts are invalid', { context: { batchId } });
        }
        if (count > 0) counts[state] = count;
      }
      return counts;
    },

    async ping() {
      await redis.ping();
    },

    async close() {
      // The connection belongs to the caller.
    },
  };
}

/** A batch hash (HGETALL as an object) → Batch; an empty hash is a missing batch. */
function decodeBatchHash(hash: unknown): Batch | null {
  const fields = record(hash);
  if (Object.keys(fields).length === 0) return null;
  const counts: Record<string, number> = {};
  for (const field of ['bytes', 'rowsRead', 'accepted', 'rejected', 'rowsCommitted']) {
    counts[field] = Number(fields[field]);
  }
  return decodeBatch({ ...fields, ...counts });
}

function incompleteUpload(batchId: string, stored: number, expected: number): LedgerCorruptionError {
  return new LedgerCorruptionError(
    `the stored upload of batch ${batchId} has ${stored} bytes, not ${expected}: a chunk is missing`,
    { context: { batchId, stored, expected } },
  );
}

function keyIdOfListKey(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

function unexpected(script: string, reply: unknown): never {
  throw new LedgerCorruptionError(`unexpected answer from the ${script} script`, {
    context: { reply: typeof reply },
  });
}

function asReply(reply: unknown): [string, unknown] {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') return unexpected('ledger', reply);
  return [reply[0], reply[1]];
}

function requireOrder(snapshot: unknown): Order {
  return decodeSnapshot(snapshot) ?? unexpected('ledger', snapshot);
}

function flatToHash(flat: unknown): Record<string, unknown> {
  if (!Array.isArray(flat)) return unexpected('ledger', flat);
  const hash: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[String(flat[i])] = flat[i + 1];
  return hash;
}

/** A stored number field; absent stays absent (fields added after the order was written). */
function optionalNumber(value: unknown): unknown {
  return value === undefined ? undefined : Number(value);
}

/** `{flat HGETALL, history list}` → Order; an empty hash is a missing order. */
function decodeSnapshot(snapshot: unknown): Order | null {
  if (!Array.isArray(snapshot)) return unexpected('ledger', snapshot);
  const [flat, history] = snapshot as unknown[];
  if (!Array.isArray(flat) || !Array.isArray(history)) return unexpected('ledger', snapshot);
  if (flat.length === 0) return null;
  const hash = flatToHash(flat);
  return decodeOrder(
    {
      ...hash,
      request: parseJson(hash.request, 'request'),
      route: hash.route === undefined ? undefined : parseJson(hash.route, 'route'),
      reversal: hash.reversal === undefined ? undefined : parseJson(hash.reversal, 'reversal'),
      inFlight: hash.inFlight === '1' ? true : hash.inFlight === '0' ? false : hash.inFlight,
      attempts: Number(hash.attempts),
      statusChecks: optionalNumber(hash.statusChecks),
      pendingSinceMs: optionalNumber(hash.pendingSinceMs),
      nextCheckAtMs: optionalNumber(hash.nextCheckAtMs),
      version: Number(hash.version),
    },
    history.map((entry) => parseJson(entry, 'history')),
  );
}

/** A callback hash (HGETALL as an object) → CallbackRecord; an empty hash is a missing callback. */
function decodeCallbackHash(hash: unknown): CallbackRecord | null {
  const fields = record(hash);
  if (Object.keys(fields).length === 0) return null;
  return decodeCallback({ ...fields, copies: Number(fields.copies) });
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return unexpected('ledger', value);
  return value as Record<string, unknown>;
}

function parseJson(value: unknown, field: string): unknown {
  return parseStored(value, `stored order has an invalid ${field}`);
}

function parseStored(value: unknown, message: string): unknown {
  if (typeof value !== 'string') throw new LedgerCorruptionError(message);
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw new LedgerCorruptionError(message, { cause });
  }
}

/**
 * A ledger that Redis may evict is not a ledger: refuse anything but `noeviction`. Falls back to
 * INFO where CONFIG is disabled (managed Redis).
 */
async function assertNoEviction(redis: Redis): Promise<void> {
  let policy: string | undefined;
  try {
    const reply: unknown = await redis.config('GET', 'maxmemory-policy');
    policy = Array.isArray(reply)
      ? String(reply[1] ?? '')
      : typeof reply === 'object' && reply !== null
        ? String((reply as Record<string, unknown>)['maxmemory-policy'] ?? '')
        : undefined;
  } catch (error) {
    // A refused or renamed CONFIG answers ERR/NOPERM: ask INFO instead; anything else is real.
    if (!/\b(ERR|NOPERM)\b/.test(String(error))) throw error;
  }
  if (!policy) {
    const info = await redis.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  }
  if (policy !== 'noeviction') {
    throw new LedgerConfigurationError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; the Redis ledger needs "noeviction" ` +
        '(set `maxmemory-policy noeviction` in redis.conf or run CONFIG SET maxmemory-policy noeviction), ' +
        'otherwise Redis may silently delete orders',
      { context: { policy: policy ?? null } },
    );
  }
}
