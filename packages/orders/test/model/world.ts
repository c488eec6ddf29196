import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Order,
  type OrderKey,
  parseRupees,
  providerOrderId,
  RechargeflowError,
} from '@rechargeflow/domain';
import type { LedgerStore } from '@rechargeflow/ledger';
import { providerRegistry } from '@rechargeflow/providers';
import type { JobProducer } from '@rechargeflow/queue';
import {
  applyCallback,
  type CallbackDeps,
  CallbackRetryError,
  type CallbackSettings,
  checkPendingOrder,
  processRecharge,
  requeueStranded,
  resolveOrder,
  type StatusCheckSettings,
  submitOrder,
  sweepStuckProcessing,
} from '../../src/index.ts';
import { pick, prng } from './prng.ts';
import type { Program, Step } from './program.ts';
import {
  type Decision,
  Market,
  type ModelCall,
  ModelProvider,
  type OutboxCallback,
  type StatusMode,
} from './providers.ts';
import { type ModelJob, ModelQueue, RECHARGE_ATTEMPTS } from './queue.ts';
import { gatedLedger, type Role, Scheduler, type Task } from './scheduler.ts';

export const PRIMARY = 'a1topup';
export const BACKUP = 'a1topup_backup';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface WorldOrder {
  /** 1-based, as in the trace (`o1`). */
  readonly index: number;
  readonly key: OrderKey;
  readonly route: readonly string[];
  /** The providerOrderId of each attempt, by route position. */
  readonly attempts: readonly string[];
}

/** A callback stored in the ledger and handed to applyCallback at least once. */
export interface DeliveredCallback {
  readonly recordId: string;
  readonly providerOrderId: string;
  readonly status: 'Success' | 'Failure';
  readonly why: OutboxCallback['why'];
}

/** The answer kinds a step's `choice` selects (0 shrinks to the plainest: success, answered at once). */
function decodeDecision(choice: number): { decision: Decision; answerNow: boolean } {
  const fates = ['charged', 'refused', 'processing', 'lost'] as const;
  const fate = fates[Math.floor(choice / 8) % 4] ?? 'lost';
  const kinds: Decision[] = [
    { kind: 'success' },
    { kind: 'refusal' },
    { kind: 'success' },
    { kind: 'refusal' },
    { kind: 'pending' },
    { kind: 'ambiguous', fate },
    { kind: 'not_sent' },
    { kind: 'ambiguous', fate },
  ];
  return { decision: kinds[choice % 8] ?? { kind: 'success' }, answerNow: Math.floor(choice / 32) % 2 === 0 };
}

function decodeStatusMode(choice: number): StatusMode {
  const modes: StatusMode[] = ['honest', 'honest', 'honest', 'honest', 'lag', 'down'];
  return modes[choice % modes.length] ?? 'honest';
}

/** What the queue (or the poller's next sweep) would try again. */
function retryable(error: unknown): boolean {
  return error instanceof RechargeflowError && error.retryable;
}

export type OperatorDecision =
  | { readonly status: 'failed' }
  | { readonly status: 'success'; readonly providerOrderId: string };

function describeOperator(decision: OperatorDecision, alias: (id: string) => string): string {
  return decision.status === 'success' ? `success on ${alias(decision.providerOrderId)}` : 'failed';
}

function describeDecision(decision: Decision): string {
  return decision.kind === 'ambiguous' ? `ambiguous(${decision.fate})` : decision.kind;
}

export class World {
  readonly program: Program;
  readonly ledger: LedgerStore;
  readonly scheduler = new Scheduler();
  readonly market: Market;
  readonly queue: ModelQueue;
  readonly deps: CallbackDeps;
  readonly orders: WorldOrder[] = [];
  readonly trace: string[] = [];
  /** Tasks that ended with an error nobody should see (not a retry the queue would make). */
  readonly errors: string[] = [];
  readonly delivered = new Map<string, DeliveredCallback>();
  /** Callback records whose apply asked to be run again (CallbackRetryError, or its run crashed). */
  readonly callbackRetries: string[] = [];
  readonly #aliases = new Map<string, string>();
  readonly #random: () => number;
  readonly #onEnd = new Map<number, (task: Task) => void>();
  readonly #jobOf = new Map<number, ModelJob>();
  readonly #callbackOf = new Map<number, string>();
  readonly #statusSettings: StatusCheckSettings;
  readonly #callbackSettings: CallbackSettings;
  #step = 0;

  constructor(ledger: LedgerStore, program: Program) {
    this.program = program;
    this.ledger = ledger;
    this.#random = prng(program.salt);
    this.market = new Market(
      this.scheduler,
      (id) => this.alias(id),
      () => this.#settleDecision(),
    );
    this.queue = new ModelQueue(this.scheduler);
    this.deps = {
      ledger: gatedLedger(ledger, this.scheduler),
      producer: this.queue as unknown as JobProducer,
      log: silent,
      providers: new Map([
        [PRIMARY, new ModelProvider(PRIMARY, this.market)],
        [BACKUP, new ModelProvider(BACKUP, this.market)],
      ]),
      routeFor: (request) => (request.value1 === 'failover' ? [PRIMARY, BACKUP] : [PRIMARY]),
      providerCatalog: providerRegistry,
      firstCheckAfterMs: 0,
    };
    this.#statusSettings = {
      notFoundGraceMs: 0,
      notFoundAfterGrace: program.settings.notFoundAfterGrace,
      maxPendingAgeMs: program.settings.maxPendingAgeMs,
    };
    this.#callbackSettings = { verifyReversals: true, confirmWindowMs: program.settings.confirmWindowMs };
  }

  /** `o2#1` for the first attempt of order 2; other text as it is. */
  alias(id: string): string {
    return this.#aliases.get(id) ?? id;
  }

  /** Replaces every providerOrderId in a text with its alias. */
  readable(text: string): string {
    return text.replace(/RF[0-9A-F]{24}/g, (id) => this.alias(id));
  }

  orderOf(id: string): WorldOrder | undefined {
    return this.orders.find((o) => o.attempts.includes(id));
  }

  async setup(clientId: string): Promise<void> {
    for (const [i, spec] of this.program.orders.entries()) {
      const key = { clientId, orderId: `o${i + 1}` };
      const route = spec.failover ? [PRIMARY, BACKUP] : [PRIMARY];
      const attempts = route.map((_, k) => providerOrderId(key, k + 1));
      attempts.forEach((id, k) => {
        this.#aliases.set(id, `o${i + 1}#${k + 1}`);
      });
      this.orders.push({ index: i + 1, key, route, attempts });
      if (spec.enqueueLost) this.queue.failNext++;
      const amount = parseRupees(10 + i);
      if (amount === null) throw new Error('bad amount');
      const created = await submitOrder(this.deps, {
        ...key,
        request: {
          operator: 'A',
          number: '9812345678',
          amount,
          ...(spec.failover ? { value1: 'failover' } : {}),
        },
      });
      if (created.kind !== 'created') throw new Error(`order ${key.orderId} not created: ${created.kind}`);
      this.trace.push(
        `setup: o${i + 1} route ${route.join(' > ')}${spec.enqueueLost ? ' (its job add fails)' : ''}`,
      );
    }
    this.queue.failNext = 0;
  }

  async currentOrders(): Promise<Order[]> {
    const found = await Promise.all(this.orders.map((o) => this.ledger.getOrder(o.key)));
    return found.filter((o): o is Order => o !== null);
  }

  /**
   * What an operator who looks the order up at its providers decides, or null when they cannot yet
   * (a provider is still processing one of its attempts, a request may still arrive) or cannot at
   * all (two attempts charged: no single outcome books both). In review: failed when no attempt was
   * charged, success on the charged attempt otherwise. `correct`: a `failed` order with a charge is
   * corrected to success too (an operator reconciling the books; never done by the settle phase,
   * so the system's own handling of such an order is what the checks see).
   */
  operatorDecision(order: Order, correct = false): OperatorDecision | null {
    if (order.state !== 'manual_review' && !(correct && order.state === 'failed')) return null;
    const world = this.orders.find((o) => o.key.orderId === order.orderId);
    if (!world) return null;
    const open = world.attempts.some(
      (id) => this.market.books.get(id)?.state === 'processing' || this.market.undecided(id).length > 0,
    );
    if (open) return null;
    const charged = world.attempts.filter((id) => this.market.books.get(id)?.state === 'charged');
    const [only] = charged;
    if (only === undefined) return order.state === 'manual_review' ? { status: 'failed' } : null;
    return charged.length === 1 ? { status: 'success', providerOrderId: only } : null;
  }

  // ---- tasks ----------------------------------------------------------------------------------

  async #spawn(role: Role, label: string, fn: () => Promise<unknown>, onEnd: (task: Task) => void) {
    const task = await this.scheduler.spawn(role, label, fn);
    this.#onEnd.set(task.id, onEnd);
    this.#ended(task);
    return task;
  }

  async #resume(task: Task, value?: unknown): Promise<void> {
    await this.scheduler.resume(task, value);
    this.#ended(task);
  }

  #ended(task: Task): void {
    if (!task.done) return;
    const onEnd = this.#onEnd.get(task.id);
    this.#onEnd.delete(task.id);
    onEnd?.(task);
  }

  #unexpected(task: Task): void {
    const error = task.error;
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.errors.push(`${task} threw ${this.readable(text)}`);
  }

  async runJob(job: ModelJob): Promise<Task> {
    job.state = 'active';
    job.started++;
    const run = { attempt: job.started, isFinalAttempt: job.started >= RECHARGE_ATTEMPTS };
    const order = this.orders.find((o) => o.key.orderId === job.key.orderId);
    const label = `o${order?.index ?? '?'}@${job.provider} run ${run.attempt}`;
    const task = await this.#spawn(
      'job',
      label,
      () => processRecharge(this.deps, job.key, run),
      (ended) => {
        if (!job.runs.includes(ended)) job.runs.push(ended);
        if (!ended.failed) return this.queue.ended(job, 'completed');
        if (retryable(ended.error)) return this.queue.ended(job, 'retry');
        this.#unexpected(ended);
        this.queue.ended(job, 'failed');
      },
    );
    if (!job.runs.includes(task)) job.runs.push(task);
    this.#jobOf.set(task.id, job);
    return task;
  }

  async applyCallbackTask(recordId: string, settings: CallbackSettings): Promise<Task> {
    const delivered = this.delivered.get(recordId);
    const label = `callback ${delivered ? `${delivered.status} ${this.alias(delivered.providerOrderId)}` : recordId}`;
    const task = await this.#spawn(
      'callback',
      label,
      () => applyCallback(this.deps, recordId, settings),
      (task) => {
        if (!task.failed) return;
        // CallbackRetryError and a ledger that kept changing: the callback job runs again.
        if (task.error instanceof CallbackRetryError || retryable(task.error)) {
          this.callbackRetries.push(recordId);
          return;
        }
        this.#unexpected(task);
      },
    );
    this.#callbackOf.set(task.id, recordId);
    return task;
  }

  async deliver(callback: OutboxCallback, settings: CallbackSettings): Promise<Task> {
    const { record } = await this.ledger.recordCallback({
      provider: callback.provider,
      providerOrderId: callback.providerOrderId,
      status: callback.status,
      providerRef: callback.opid,
      receivedAt: new Date().toISOString(),
      raw: `txid=${callback.providerOrderId}&status=${callback.status}&opid=${callback.opid}`,
    });
    if (!this.delivered.has(record.id)) {
      this.delivered.set(record.id, {
        recordId: record.id,
        providerOrderId: callback.providerOrderId,
        status: callback.status,
        why: callback.why,
      });
    }
    return this.applyCallbackTask(record.id, settings);
  }

  async #statusCheck(order: Order): Promise<void> {
    const world = this.orders.find((o) => o.key.orderId === order.orderId);
    await this.#spawn(
      'status',
      `status check o${world?.index ?? '?'} (${this.alias(order.providerOrderId)})`,
      () => checkPendingOrder(this.deps, order, this.#statusSettings),
      (task) => {
        // A retryable error is logged by the poller and the next sweep tries again.
        if (task.failed && !retryable(task.error)) this.#unexpected(task);
      },
    );
  }

  async #sweep(): Promise<void> {
    // Sweeps take orders last changed before "now": a millisecond apart keeps same-ms writes out.
    await this.scheduler.nextMillisecond();
    await this.#spawn(
      'sweep',
      'sweep stuck processing',
      () => sweepStuckProcessing(this.deps, { olderThanMs: 0, limit: 100 }),
      (task) => {
        // A retryable error is logged by the poller and the next sweep tries again.
        if (task.failed && !retryable(task.error)) this.#unexpected(task);
      },
    );
  }

  async #requeue(): Promise<void> {
    await this.scheduler.nextMillisecond();
    await this.#spawn(
      'requeue',
      'requeue stranded',
      () => requeueStranded(this.deps, { olderThanMs: 0, limit: 100 }),
      (task) => {
        // A retryable error is logged by the poller and the next sweep tries again.
        if (task.failed && !retryable(task.error)) this.#unexpected(task);
      },
    );
  }

  async #operator(order: Order, decision: OperatorDecision): Promise<void> {
    const world = this.orders.find((o) => o.key.orderId === order.orderId);
    await this.#spawn(
      'operator',
      `operator resolves o${world?.index ?? '?'} ${describeOperator(decision, (id) => this.alias(id))}`,
      () =>
        resolveOrder(this.deps, order, {
          ...decision,
          reason: `provider books say ${decision.status === 'success' ? 'charged' : 'not charged'}`,
          actor: 'model-operator',
        }),
      (task) => {
        if (task.failed && !retryable(task.error)) this.#unexpected(task);
      },
    );
  }

  #crash(task: Task, lose: boolean): void {
    this.scheduler.kill(task);
    const job = this.#jobOf.get(task.id);
    if (job) this.queue.ended(job, lose ? 'failed' : 'stalled');
    const recordId = this.#callbackOf.get(task.id);
    if (recordId !== undefined) this.callbackRetries.push(recordId);
  }

  // ---- the program's steps --------------------------------------------------------------------

  async step(step: Step): Promise<void> {
    this.#step++;
    const note = await this.#apply(step);
    if (note !== null) this.trace.push(`#${this.#step} ${step.kind}: ${note}`);
  }

  async #apply(step: Step): Promise<string | null> {
    const choose = <T>(candidates: readonly T[]): T | undefined =>
      candidates.length === 0 ? undefined : candidates[step.pick % candidates.length];
    switch (step.kind) {
      case 'run': {
        const job = choose(this.queue.waiting());
        if (!job) return null;
        const task = await this.runJob(job);
        // Mostly straight on to the provider call (0 shrinks to that); else it waits at its first read.
        const passed =
          step.choice % 4 === 3 ? [] : await this.#throughOwnCalls(task, Number.POSITIVE_INFINITY);
        return `${this.#jobLabel(job)} attempt ${job.started} as ${task}${this.#passedNote(task, passed)}`;
      }
      case 'advance': {
        const task = choose(this.scheduler.live());
        if (!task) return null;
        return this.#advance(task, step.choice);
      }
      case 'proceed': {
        const task = choose(
          this.scheduler.live().filter((t) => t.park?.kind === 'ledger' || t.park?.kind === 'queue'),
        );
        if (!task) return null;
        const passed = await this.#throughOwnCalls(task, Number.POSITIVE_INFINITY);
        return `${task}${this.#passedNote(task, passed)}`;
      }
      case 'crash': {
        const task = choose(this.scheduler.live());
        if (!task) return null;
        const at = task.park?.what ?? '?';
        this.#crash(task, step.choice % 2 === 1);
        return `${task} at ${this.readable(at)}${task.role === 'job' ? (step.choice % 2 === 1 ? ', job lost' : ', job back to waiting') : ''}`;
      }
      case 'stall': {
        const job = choose(this.queue.active());
        if (!job) return null;
        await this.runJob(job);
        return `${this.#jobLabel(job)} redelivered while its run goes on (attempt ${job.started})`;
      }
      case 'deliver': {
        const index = this.market.outbox.length === 0 ? -1 : step.pick % this.market.outbox.length;
        const callback = this.market.outbox[index];
        if (!callback) return null;
        this.market.outbox.splice(index, 1);
        const copy = step.choice % 3 === 2;
        if (copy) this.market.outbox.push({ ...callback, why: 'duplicate' });
        const task = await this.deliver(callback, this.#callbackSettings);
        // 0..3 of its own calls at once (reads mostly), so it can stop between its read and its write.
        const passed = await this.#throughOwnCalls(task, Math.floor(step.choice / 3) % 4);
        return `${callback.status} ${this.alias(callback.providerOrderId)} ${callback.opid} (${callback.why})${copy ? ', a copy stays' : ''} as ${task}${this.#passedNote(task, passed)}`;
      }
      case 'forge': {
        const sent = [...new Set(this.market.calls.map((c) => c.providerOrderId))];
        const id = choose(sent);
        if (id === undefined) return null;
        const provider = this.market.calls.find((c) => c.providerOrderId === id)?.provider ?? PRIMARY;
        const status = this.market.books.get(id)?.state === 'charged' ? 'Failure' : 'Success';
        const callback = this.market.emit(provider, id, status, 'forged');
        return `${status} ${this.alias(id)} ${callback.opid} against the books`;
      }
      case 'resend': {
        const decided = [...this.market.books.entries()].filter(([, e]) => e.state !== 'processing');
        const entry = choose(decided);
        if (!entry) return null;
        const [id, book] = entry;
        const callback = this.market.emit(
          book.provider,
          id,
          book.state === 'charged' ? 'Success' : 'Failure',
          'resend',
        );
        return `${callback.status} ${this.alias(id)} ${callback.opid}`;
      }
      case 'decide': {
        const processing = [...this.market.books.entries()].filter(([, e]) => e.state === 'processing');
        const orphans = this.market.undecided().filter((c) => !c.task?.live);
        const target = choose<readonly [string, unknown] | ModelCall>([...processing, ...orphans]);
        if (target === undefined) return null;
        if (Array.isArray(target)) {
          const id = target[0] as string;
          const charged = step.choice % 2 === 0;
          this.market.settleEntry(id, charged);
          return `${this.alias(id)} ${charged ? 'charged' : 'refused'} by the provider`;
        }
        const call = target as ModelCall;
        const fates = ['charged', 'refused', 'processing', 'lost'] as const;
        const fate = fates[step.choice % 4] ?? 'lost';
        this.market.decide(call, { kind: 'ambiguous', fate });
        return `crashed call #${call.no} (${this.alias(call.providerOrderId)}) reaches the provider: ${fate}`;
      }
      case 'status': {
        const pending = (await this.currentOrders()).filter((o) => o.state === 'pending');
        const order = choose(pending);
        if (!order) return null;
        await this.#statusCheck(order);
        return `o${this.orderOf(order.providerOrderId)?.index ?? '?'}`;
      }
      case 'sweep':
        await this.#sweep();
        return 'started';
      case 'requeue':
        await this.#requeue();
        return 'started';
      case 'operator': {
        const orders = await this.currentOrders();
        const order = choose(orders.filter((o) => this.operatorDecision(o, true) !== null));
        const decision = order && this.operatorDecision(order, true);
        if (!order || !decision) return null;
        await this.#operator(order, decision);
        return `o${this.orderOf(order.providerOrderId)?.index ?? '?'} (${order.state}) -> ${describeOperator(decision, (id) => this.alias(id))}`;
      }
      case 'retry_callback': {
        const index = this.callbackRetries.length === 0 ? -1 : step.pick % this.callbackRetries.length;
        const recordId = this.callbackRetries[index];
        if (recordId === undefined) return null;
        this.callbackRetries.splice(index, 1);
        const task = await this.applyCallbackTask(recordId, this.#callbackSettings);
        return `${task}`;
      }
      case 'queue_down':
        if (this.queue.failNext >= 2) return null;
        this.queue.failNext++;
        return 'the next add fails';
    }
  }

  async #advance(task: Task, choice: number): Promise<string> {
    const park = task.park;
    if (!park) throw new Error(`${task} is live but not parked`);
    const what = this.readable(park.what);
    if (park.kind === 'recharge') {
      const call = park.ref as ModelCall;
      if (call.phase === 'arriving') {
        const { decision, answerNow } = decodeDecision(choice);
        this.market.decide(call, decision);
        if (answerNow) await this.#resume(task);
        return `${task} ${what}: ${describeDecision(decision)}${answerNow ? ', answered' : ', answer still on its way'}`;
      }
      await this.#resume(task);
      return `${task} ${what}: answer (${describeDecision(call.decision ?? { kind: 'success' })}) arrives`;
    }
    if (park.kind === 'status') {
      const mode = decodeStatusMode(choice);
      await this.#resume(task, mode);
      return `${task} ${what} answers ${mode}`;
    }
    await this.#resume(task);
    return `${task} ${what}`;
  }

  /** Resumes `task` through at most `max` of its ledger and queue calls, stopping at a provider call. */
  async #throughOwnCalls(task: Task, max: number): Promise<string[]> {
    const passed: string[] = [];
    while (
      passed.length < max &&
      task.live &&
      (task.park?.kind === 'ledger' || task.park?.kind === 'queue')
    ) {
      passed.push(task.park.what.replace(/^(ledger|queue)\./, ''));
      await this.#resume(task);
    }
    return passed;
  }

  #passedNote(task: Task, passed: readonly string[]): string {
    const now = task.done ? 'ended' : `now at ${this.readable(task.park?.what ?? '?')}`;
    return passed.length === 0 ? `, ${now}` : `: ${passed.join(', ')}; ${now}`;
  }

  #jobLabel(job: ModelJob): string {
    const order = this.orders.find((o) => o.key.orderId === job.key.orderId);
    return `job o${order?.index ?? '?'}@${job.provider}`;
  }

  // ---- settling -------------------------------------------------------------------------------

  /** The settle phase's pick for a call still in the wire: mostly definite answers. */
  #settleDecision(): Decision {
    return pick<Decision>(this.#random, [
      [{ kind: 'success' }, 40],
      [{ kind: 'refusal' }, 30],
      [{ kind: 'pending' }, 5],
      [{ kind: 'not_sent' }, 5],
      [{ kind: 'ambiguous', fate: 'charged' }, 5],
      [{ kind: 'ambiguous', fate: 'refused' }, 5],
      [{ kind: 'ambiguous', fate: 'processing' }, 5],
      [{ kind: 'ambiguous', fate: 'lost' }, 5],
    ]);
  }

  /** Runs every live task to its end, oldest first; provider calls get the settle phase's answers. */
  async #drain(note: (text: string) => void): Promise<void> {
    for (let guard = 0; guard < 10_000; guard++) {
      const task = this.scheduler.live()[0];
      if (!task) return;
      const park = task.park;
      if (park?.kind === 'recharge') {
        const call = park.ref as ModelCall;
        if (call.phase === 'arriving') {
          const decision = this.#settleDecision();
          this.market.decide(call, decision);
          note(`${task} ${this.readable(park.what)}: ${describeDecision(decision)}, answered`);
        } else {
          note(
            `${task} ${this.readable(park.what)}: answer (${describeDecision(call.decision ?? { kind: 'success' })}) arrives`,
          );
        }
        await this.#resume(task);
      } else if (park?.kind === 'status') {
        note(`${task} ${this.readable(park.what)} answers honest`);
        await this.#resume(task, 'honest' satisfies StatusMode);
      } else {
        note(`${task} ${this.readable(park?.what ?? '?')}`);
        await this.#resume(task);
      }
    }
    throw new Error('settle: tasks kept going for 10000 steps');
  }

  /**
   * After the program: everything in flight finishes, the providers finish what they were
   * processing, every callback is delivered, jobs run until none is left, sweeps and status checks
   * run until nothing is processing or pending, and the operator resolves what the books decide.
   */
  async settle(): Promise<void> {
    this.trace.push('settle:');
    const settle: CallbackSettings = { verifyReversals: true, confirmWindowMs: 0 };
    const note = (text: string) => this.trace.push(`  ${text}`);
    for (let round = 0; round < 20; round++) {
      // Normally quiet after a round or two; past that, give clocks a moment (sweeps take orders
      // changed before the ledger's "now", which may lag this host's by a little).
      if (round >= 3) await sleep(Math.min(2 ** round, 200));
      await this.#drain(note);
      for (const call of this.market.undecided()) {
        if (call.task?.live) continue;
        const decision = this.#settleDecision();
        this.market.decide(call, decision);
        note(
          `crashed call #${call.no} (${this.alias(call.providerOrderId)}) reaches the provider: ${describeDecision(decision)}`,
        );
      }
      for (const [id, entry] of this.market.books) {
        if (entry.state !== 'processing') continue;
        const charged = this.#random() < 0.5;
        this.market.settleEntry(id, charged);
        note(`${this.alias(id)} ${charged ? 'charged' : 'refused'} by the provider`);
      }
      while (this.market.outbox.length > 0) {
        const callback = this.market.outbox.shift();
        if (!callback) break;
        note(
          `deliver ${callback.status} ${this.alias(callback.providerOrderId)} ${callback.opid} (${callback.why})`,
        );
        await this.deliver(callback, settle);
        await this.#drain(note);
      }
      for (const recordId of this.callbackRetries.splice(0)) {
        const task = await this.applyCallbackTask(recordId, settle);
        note(`retry ${task}`);
        await this.#drain(note);
      }
      for (const job of this.queue.waiting()) {
        await this.runJob(job);
        note(`run ${this.#jobLabel(job)} attempt ${job.started}`);
        await this.#drain(note);
      }
      let orders = await this.currentOrders();
      if (orders.some((o) => o.state === 'queued')) {
        note('requeue stranded');
        await this.#requeue();
        await this.#drain(note);
      }
      // Processing orders, and orders in review whose call never answered (the sweep ends the call).
      if (orders.some((o) => o.state === 'processing' || (o.state === 'manual_review' && o.inFlight))) {
        note('sweep stuck processing');
        await this.#sweep();
        await this.#drain(note);
        orders = await this.currentOrders();
      }
      for (const order of orders.filter((o) => o.state === 'pending')) {
        note(`status check o${this.orderOf(order.providerOrderId)?.index ?? '?'}`);
        await this.#statusCheck(order);
        await this.#drain(note);
      }
      for (const order of (await this.currentOrders()).filter((o) => o.state === 'manual_review')) {
        const decision = this.operatorDecision(order);
        if (decision === null) continue;
        note(
          `operator resolves o${this.orderOf(order.providerOrderId)?.index ?? '?'} -> ${describeOperator(decision, (id) => this.alias(id))}`,
        );
        await this.#operator(order, decision);
        await this.#drain(note);
      }
      if (await this.#quiet()) return;
    }
  }

  async #quiet(): Promise<boolean> {
    if (this.scheduler.live().length > 0) return false;
    if (this.market.outbox.length > 0 || this.callbackRetries.length > 0) return false;
    if (this.queue.waiting().length > 0) return false;
    if (this.market.undecided().length > 0) return false;
    if ([...this.market.books.values()].some((e) => e.state === 'processing')) return false;
    const orders = await this.currentOrders();
    return orders.every(
      (o) =>
        o.state === 'success' ||
        o.state === 'failed' ||
        o.state === 'reversed' ||
        (o.state === 'manual_review' && this.operatorDecision(o) === null),
    );
  }
}

/** Runs one program against `ledger` (orders of client `clientId`), settles, and returns the world. */
export async function runWorld(ledger: LedgerStore, clientId: string, program: Program): Promise<World> {
  const world = new World(ledger, program);
  await world.setup(clientId);
  for (const step of program.steps) await world.step(step);
  await world.settle();
  return world;
}
