import {
  isOrderState,
  ORDER_STATES,
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
} from '@rechargeflow/domain';
import type { Redis } from 'ioredis';
import {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
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
  type TransitionCommand,
  type TransitionResult,
} from './ledger-store.ts';
import {
  assertCommand,
  callbackId,
  createdWindow,
  creationEntry,
  encodeCursor,
  historyEntry,
  listKey,
  reversalRecord,
  SummaryBuilder,
  scheduleChange,
  timeMs,
  validateBalanceSample,
  validateCallbackInput,
  validateCallbackLimit,
  validateClaimOptions,
  validateListQuery,
  validateOutcome,
  validateStaleLimit,
} from './ledger-support.ts';
import { decodeOrder, decodeRequest, newOrderRecord } from './order-record.ts';
import { callbackFields, decodeBalanceSample, decodeCallback } from './records.ts';
import {
  ALL_SCRIPTS,
  CLAIM_CHECKS,
  CREATE_ORDER,
  READ_ORDERS,
  RECORD_BALANCE,
  RECORD_CALLBACK,
  runScript,
  SET_CALLBACK_OUTCOME,
  TRANSITION,
  UPGRADE_ORDERS,
} from './redis-scripts.ts';

/** Bumped when init() must bring older ledgers' indexes up to date (see UPGRADE_ORDERS). */
const LAYOUT_VERSION = '2';
/** Orders read per round trip when scanning (summaries, the upgrade): bounds memory per step. */
const SCAN_CHUNK = 500;

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
  };
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
      const { request, route } = newOrderRecord(order);
      const keyId = orderKeyId(order);
      const sortKey = listKey(order, order.now);
      const fields: Record<string, string> = {
        clientId: order.clientId,
        orderId: order.orderId,
        providerOrderId: order.providerOrderId,
        provider: order.provider,
        route: JSON.stringify(route),
        request: JSON.stringify(request),
        fingerprint: order.fingerprint,
        state: 'queued',
        inFlight: '0',
        attempts: '0',
        statusChecks: '0',
        createdAt: order.now,
        updatedAt: order.now,
        version: '1',
        listKey: sortKey,
      };
      if (order.batchId !== undefined) fields.batchId = order.batchId;
      const reply = await runScript(
        redis,
        CREATE_ORDER,
        [
          keys.order(keyId),
          keys.history(keyId),
          keys.providerOrder(order.providerOrderId),
          keys.clientOrders(order.clientId),
          keys.clientState(order.clientId, 'queued'),
          keys.stateUpdated('queued'),
          keys.created,
        ],
        [
          keyId,
          sortKey,
          timeMs(order.now, 'now'),
          JSON.stringify(creationEntry(order.now)),
          ...Object.entries(fields).flat(),
        ],
      );
      const [status, snapshot] = asReply(reply);
      if (status === 'provider_order_id_taken') throw new ProviderOrderIdConflictError(order.providerOrderId);
      if (status !== 'created' && status !== 'exists') unexpected('create-order', reply);
      return { created: status === 'created', order: requireOrder(snapshot) };
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
            `cannot switch order ${key.clientId}/${key.orderId} to ${target?.provider}: not in its route`,
          );
        case 'provider_order_id_taken':
          throw new ProviderOrderIdConflictError(target?.providerOrderId ?? '');
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

    async ping() {
      await redis.ping();
    },

    async close() {
      // The connection belongs to the caller.
    },
  };
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
