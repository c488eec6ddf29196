import { type Order, type OrderKey, type OrderState, orderKeyId } from '@rechargeflow/domain';
import type { Redis } from 'ioredis';
import {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
} from './ledger-errors.ts';
import type {
  CreateResult,
  LedgerStore,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  TransitionCommand,
  TransitionResult,
} from './ledger-store.ts';
import {
  assertCommand,
  creationEntry,
  encodeCursor,
  historyEntry,
  listKey,
  timeMs,
  validateListQuery,
  validateStaleLimit,
} from './ledger-support.ts';
import { decodeOrder } from './order-record.ts';
import { ALL_SCRIPTS, CREATE_ORDER, READ_ORDERS, runScript, TRANSITION } from './redis-scripts.ts';

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
 * - `P:order:<keyId>`               hash: the order's fields (request JSON-encoded) + `listKey`
 * - `P:history:<keyId>`             list: history entries, one JSON string each, oldest first
 * - `P:provider-order:<poid>`       string: keyId holding that providerOrderId (the unique claim)
 * - `P:client:<clientId>:orders`    zset, all scores 0, members `listKey` (time:keyId): byte order
 *                                   is creation order, so ZRANGE BYLEX REV pages newest first
 * - `P:client:<clientId>:state:<s>` the same, only orders now in state s
 * - `P:state:<s>:updated`           zset, score updatedAt ms, member keyId: findStale
 * keyId is `orderKeyId({clientId, orderId})` from the domain. Needs Redis >= 6.2 (ZRANGE BYLEX REV).
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
  };

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

  return {
    async init() {
      await assertNoEviction(redis);
      // Loading up front surfaces a script error at start-up rather than on the first order.
      for (const lua of ALL_SCRIPTS) {
        const sha = await redis.script('LOAD', lua.lua);
        if (sha !== lua.sha)
          throw new LedgerConfigurationError(`Redis loaded ${lua.name} under an unexpected sha`);
      }
    },

    async createOrder(order: NewOrder): Promise<CreateResult> {
      const keyId = orderKeyId(order);
      const sortKey = listKey(order, order.now);
      const fields: Record<string, string> = {
        clientId: order.clientId,
        orderId: order.orderId,
        providerOrderId: order.providerOrderId,
        provider: order.provider,
        request: JSON.stringify(order.request),
        fingerprint: order.fingerprint,
        state: 'queued',
        inFlight: '0',
        attempts: '0',
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
      const expectInFlight = command.expect.inFlight;
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

/** `{flat HGETALL, history list}` → Order; an empty hash is a missing order. */
function decodeSnapshot(snapshot: unknown): Order | null {
  if (!Array.isArray(snapshot)) return unexpected('ledger', snapshot);
  const [flat, history] = snapshot as unknown[];
  if (!Array.isArray(flat) || !Array.isArray(history)) return unexpected('ledger', snapshot);
  if (flat.length === 0) return null;
  const hash: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[String(flat[i])] = flat[i + 1];
  return decodeOrder(
    {
      ...hash,
      request: parseJson(hash.request, 'request'),
      inFlight: hash.inFlight === '1' ? true : hash.inFlight === '0' ? false : hash.inFlight,
      attempts: Number(hash.attempts),
      version: Number(hash.version),
    },
    history.map((entry) => parseJson(entry, 'history')),
  );
}

function parseJson(value: unknown, field: string): unknown {
  if (typeof value !== 'string') throw new LedgerCorruptionError(`stored order has an invalid ${field}`);
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw new LedgerCorruptionError(`stored order has an invalid ${field}`, { cause });
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
