import type { Order, OrderKey, OrderState } from '@rechargeflow/domain';
import {
  type Batch,
  type BatchOrderChunk,
  type BatchPatch,
  type BatchStore,
  type CreateResult,
  createBatchOrdersVia,
  type NewBatch,
  type NewOrder,
  type RowResult,
  type UploadLease,
  UploadQuotaError,
} from '@rechargeflow/ledger';

/**
 * The BatchStore contract (and getOrder) in memory, for the unit tests of the import logic:
 * what the Redis and MongoDB stores must do, without their storage.
 */
export class MemoryLedger implements BatchStore {
  readonly batches = new Map<string, Batch>();
  readonly uploads = new Map<string, Buffer[]>();
  /** Uploads not committed: their client and when their lease runs out (this process's clock). */
  readonly leases = new Map<string, { clientId: string; until: number }>();
  readonly rows = new Map<string, RowResult[]>();
  /** Each batch's commits by their first row. */
  readonly commits = new Map<string, Map<number, RowResult[]>>();
  readonly orders = new Map<string, Order>();
  readonly members = new Map<string, Set<string>>();
  createOrdersCalls = 0;

  async createBatch(batch: NewBatch) {
    for (const existing of this.batches.values()) {
      if (existing.clientId === batch.clientId && existing.contentHash === batch.contentHash) {
        if (existing.batchId !== batch.batchId) await this.discardUpload(batch.clientId, batch.batchId);
        return { created: false, batch: existing };
      }
    }
    this.leases.delete(batch.batchId);
    const stored: Batch = {
      ...batch,
      state: 'stored',
      rowsRead: 0,
      accepted: 0,
      rejected: 0,
      rowsCommitted: 0,
      rowsReleased: 0,
      updatedAt: batch.createdAt,
    };
    this.batches.set(batch.batchId, stored);
    return { created: true, batch: stored };
  }

  async putUploadChunk(batchId: string, index: number, data: Buffer, lease: UploadLease) {
    if (this.batches.has(batchId)) throw new RangeError(`batch ${batchId} is stored already`);
    if (lease.maxPendingBytes !== undefined) {
      const pending = await this.pendingUploadBytes(lease.clientId);
      const replaced = this.uploads.get(batchId)?.[index]?.length ?? 0;
      if (pending - replaced + data.length > lease.maxPendingBytes) {
        throw new UploadQuotaError(lease.maxPendingBytes, pending);
      }
    }
    this.leases.set(batchId, { clientId: lease.clientId, until: Date.now() + lease.leaseMs });
    const chunks = this.uploads.get(batchId) ?? [];
    chunks[index] = Buffer.from(data);
    this.uploads.set(batchId, chunks);
  }

  async discardUpload(clientId: string, batchId: string) {
    if (this.batches.has(batchId) || this.leases.get(batchId)?.clientId !== clientId) return;
    this.leases.delete(batchId);
    this.uploads.delete(batchId);
  }

  async sweepUploads() {
    let removed = 0;
    for (const [batchId, lease] of this.leases) {
      if (lease.until > Date.now()) continue;
      this.leases.delete(batchId);
      this.uploads.delete(batchId);
      removed += 1;
    }
    return removed;
  }

  async pendingUploadBytes(clientId: string) {
    let bytes = 0;
    for (const [batchId, lease] of this.leases) {
      if (lease.clientId !== clientId || lease.until <= Date.now()) continue;
      for (const chunk of this.uploads.get(batchId) ?? []) bytes += chunk?.length ?? 0;
    }
    for (const batch of this.batches.values()) {
      if (batch.clientId === clientId && (batch.state === 'stored' || batch.state === 'importing')) {
        bytes += batch.bytes;
      }
    }
    return bytes;
  }

  async *readUpload(batchId: string) {
    for (const chunk of this.uploads.get(batchId) ?? []) yield chunk;
  }

  async getBatch(clientId: string, batchId: string) {
    const batch = this.batches.get(batchId);
    return batch?.clientId === clientId ? batch : null;
  }

  async listBatches() {
    return { batches: [...this.batches.values()] };
  }

  async findBatches() {
    return [];
  }

  async updateBatch(batchId: string, patch: BatchPatch, at: string) {
    const batch = this.batches.get(batchId);
    if (!batch) throw new RangeError(`no batch ${batchId}`);
    const next: Batch = {
      ...batch,
      ...(patch.state === undefined ? {} : { state: patch.state }),
      ...(patch.rowsRead === undefined ? {} : { rowsRead: patch.rowsRead }),
      ...(patch.error === undefined ? {} : { error: patch.error }),
      ...(patch.stoppedAtLine === undefined ? {} : { stoppedAtLine: patch.stoppedAtLine }),
      ...(patch.rowsNotRead === undefined ? {} : { rowsNotRead: patch.rowsNotRead }),
      updatedAt: at,
    };
    this.batches.set(batchId, next);
    return next;
  }

  async commitRows(batchId: string, results: readonly RowResult[], at: string) {
    const batch = this.batches.get(batchId);
    if (!batch) throw new RangeError(`no batch ${batchId}`);
    if (results.length === 0) throw new RangeError('commitRows needs at least one row');
    if (results[0]?.row !== batch.rowsCommitted + 1) return false;
    const list = this.rows.get(batchId) ?? [];
    list.push(...structuredClone(results));
    this.rows.set(batchId, list);
    const commits = this.commits.get(batchId) ?? new Map<number, RowResult[]>();
    commits.set(results[0].row, structuredClone([...results]));
    this.commits.set(batchId, commits);
    const accepted = results.filter((r) => r.orderId !== undefined).length;
    this.batches.set(batchId, {
      ...batch,
      rowsCommitted: batch.rowsCommitted + results.length,
      accepted: batch.accepted + accepted,
      rejected: batch.rejected + results.length - accepted,
      updatedAt: at,
    });
    return true;
  }

  async *readRows(batchId: string) {
    const list = this.rows.get(batchId) ?? [];
    for (let i = 0; i < list.length; i += 300) yield list.slice(i, i + 300);
  }

  async readRowChunk(batchId: string, firstRow: number) {
    if (!Number.isSafeInteger(firstRow) || firstRow < 1) throw new RangeError('firstRow counts from 1');
    const chunk = this.commits.get(batchId)?.get(firstRow);
    return chunk === undefined ? null : structuredClone(chunk);
  }

  async releaseRows(batchId: string, firstRow: number, count: number) {
    const batch = this.batches.get(batchId);
    if (!batch) throw new RangeError(`no batch ${batchId}`);
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('count counts from 1');
    if (batch.rowsReleased !== firstRow - 1 || firstRow - 1 + count > batch.rowsCommitted) return false;
    this.batches.set(batchId, { ...batch, rowsReleased: firstRow - 1 + count });
    return true;
  }

  async queuedProviders(keys: readonly OrderKey[]) {
    return keys.map((key) => {
      const order = this.orders.get(`${key.clientId}\u0000${key.orderId}`);
      return order?.state === 'queued' ? order.provider : null;
    });
  }

  async createOrders(orders: readonly NewOrder[]): Promise<readonly CreateResult[]> {
    this.createOrdersCalls += 1;
    return orders.map((o): CreateResult => {
      const id = `${o.clientId}\u0000${o.orderId}`;
      const existing = this.orders.get(id);
      if (existing) return { created: false, order: existing };
      const order: Order = {
        clientId: o.clientId,
        orderId: o.orderId,
        providerOrderId: o.providerOrderId,
        provider: o.provider,
        route: o.route ?? [o.provider],
        request: o.request,
        fingerprint: o.fingerprint,
        state: 'queued',
        inFlight: false,
        attempts: 0,
        statusChecks: 0,
        batchId: o.batchId,
        createdAt: o.now,
        updatedAt: o.now,
        version: 1,
        history: [{ at: o.now, from: null, to: 'queued', source: 'api', note: 'order accepted' }],
      };
      this.orders.set(id, order);
      if (o.batchId) this.#member(o.batchId).add(id);
      return { created: true, order };
    });
  }

  createBatchOrders(chunk: BatchOrderChunk) {
    return createBatchOrdersVia((orders) => this.createOrders(orders), chunk);
  }

  async linkOrders(batchId: string, keys: readonly OrderKey[]) {
    for (const k of keys) this.#member(batchId).add(`${k.clientId}\u0000${k.orderId}`);
  }

  async batchStates(batchId: string) {
    const counts: Partial<Record<OrderState, number>> = {};
    for (const id of this.members.get(batchId) ?? []) {
      const state = this.orders.get(id)?.state;
      if (state) counts[state] = (counts[state] ?? 0) + 1;
    }
    return counts;
  }

  async getOrder(key: OrderKey) {
    return this.orders.get(`${key.clientId}\u0000${key.orderId}`) ?? null;
  }

  setState(key: OrderKey, state: OrderState, providerRef?: string, note?: string) {
    const id = `${key.clientId}\u0000${key.orderId}`;
    const order = this.orders.get(id);
    if (!order) return;
    const entry = { at: order.updatedAt, from: order.state, to: state, source: 'worker' as const, note };
    this.orders.set(id, {
      ...order,
      state,
      history: [...order.history, entry],
      ...(providerRef ? { providerRef } : {}),
    });
  }

  #member(batchId: string): Set<string> {
    let set = this.members.get(batchId);
    if (!set) {
      set = new Set();
      this.members.set(batchId, set);
    }
    return set;
  }
}

/** Collects enqueueBulk calls like JobProducer would (job ids deduplicated per queue). */
export class MemoryProducer {
  readonly queues = new Map<string, Map<string, unknown>>();
  calls = 0;

  async enqueueBulk(
    _name: string,
    jobs: readonly { readonly payload: unknown; readonly jobId: string }[],
    partition?: string,
  ): Promise<void> {
    this.calls += 1;
    const queue = this.queues.get(partition ?? '') ?? new Map<string, unknown>();
    for (const job of jobs) if (!queue.has(job.jobId)) queue.set(job.jobId, job.payload);
    this.queues.set(partition ?? '', queue);
  }

  /** Nothing consumes these queues: every job added waits. */
  async backlog(_name: string, partition?: string): Promise<number> {
    return this.queues.get(partition ?? '')?.size ?? 0;
  }

  /** Takes `count` jobs off a provider's queue, as a consumer would: they leave the backlog. */
  take(partition: string, count: number): string[] {
    const queue = this.queues.get(partition);
    if (queue === undefined) return [];
    const taken = [...queue.keys()].slice(0, count);
    for (const jobId of taken) queue.delete(jobId);
    return taken;
  }
}

export const silentLog = { info() {}, warn() {}, error() {} };
