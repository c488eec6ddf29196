import {
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from '@rechargeflow/providers';
import type { Scheduler, Task } from './scheduler.ts';

/**
 * The providers' side of the world: each provider's books (the truth the ledger is checked
 * against), every recharge call made, the callbacks the providers send, and the answers the
 * workers got. The providers are in-process models; what they answer is chosen by the program.
 */

/** A provider's record of one providerOrderId it received. */
export interface BookEntry {
  /** `processing`: received, outcome not decided yet (it answered Pending, or the answer was lost). */
  state: 'processing' | 'charged' | 'refused';
  readonly provider: string;
  /** The call that brought it. */
  readonly callNo: number;
}

/**
 * What happens to one recharge call:
 * - `success`: charged; answers Success. `refusal`: not charged; answers Failure (definite).
 * - `pending`: received, outcome later; answers Pending.
 * - `ambiguous`: the answer is lost (timeout after sending): throws ProviderError `ambiguous`;
 *   `fate` is what the provider did with it (`lost`: it never arrived).
 * - `not_sent`: provably never left (connection refused): throws ProviderError `not_sent`.
 */
export type Decision =
  | { readonly kind: 'success' | 'refusal' | 'pending' | 'not_sent' }
  | { readonly kind: 'ambiguous'; readonly fate: 'charged' | 'refused' | 'processing' | 'lost' };

export interface ModelCall {
  readonly no: number;
  readonly provider: string;
  readonly providerOrderId: string;
  readonly task: Task | undefined;
  phase: 'arriving' | 'decided' | 'answered';
  decision?: Decision | undefined;
}

/** A callback a provider sends (or that is forged in its name): waits in the outbox to be delivered. */
export interface OutboxCallback {
  readonly no: number;
  readonly provider: string;
  readonly providerOrderId: string;
  readonly status: 'Success' | 'Failure';
  readonly opid: string;
  readonly why: 'books' | 'resend' | 'forged' | 'duplicate';
}

/** An answer a worker task got from `recharge()` (counted only if that task ran to its end). */
export interface AnswerEvent {
  readonly providerOrderId: string;
  readonly task: Task | undefined;
  /** The raw status (returned answers) or the error message (thrown ones), unique enough to find. */
  readonly token: string;
  readonly describe: string;
}

/** How the status API answers one question: from the books, lagging (Pending), or not at all. */
export type StatusMode = 'honest' | 'lag' | 'down';

export class Market {
  readonly books = new Map<string, BookEntry>();
  readonly calls: ModelCall[] = [];
  readonly outbox: OutboxCallback[] = [];
  readonly answers: AnswerEvent[] = [];
  /** Money-safety failures seen as they happen (a providerOrderId sent again). */
  readonly sentTwice: string[] = [];
  readonly scheduler: Scheduler;
  readonly alias: (providerOrderId: string) => string;
  /** Decides a call still in the wire when something needs its outcome (status API, settle). */
  readonly fallbackDecision: () => Decision;
  #callbacks = 0;
  #events = 0;

  constructor(
    scheduler: Scheduler,
    alias: (providerOrderId: string) => string,
    fallbackDecision: () => Decision,
  ) {
    this.scheduler = scheduler;
    this.alias = alias;
    this.fallbackDecision = fallbackDecision;
  }

  nextEvent(): number {
    return ++this.#events;
  }

  emit(provider: string, providerOrderId: string, status: 'Success' | 'Failure', why: OutboxCallback['why']) {
    const no = ++this.#callbacks;
    const callback: OutboxCallback = {
      no,
      provider,
      providerOrderId,
      status,
      opid: `OP${no}`,
      why,
    };
    this.outbox.push(callback);
    return callback;
  }

  /** Fixes what a call does at the provider; its worker (if alive) gets the answer when resumed. */
  decide(call: ModelCall, decision: Decision): void {
    if (call.phase !== 'arriving') throw new Error(`call #${call.no} was decided already`);
    call.phase = 'decided';
    call.decision = decision;
    const P = call.providerOrderId;
    const fate =
      decision.kind === 'ambiguous'
        ? decision.fate
        : decision.kind === 'success'
          ? 'charged'
          : decision.kind === 'refusal'
            ? 'refused'
            : decision.kind === 'pending'
              ? 'processing'
              : 'lost';
    if (fate === 'lost') return;
    // A second receipt of one orderid (a bug the sent-twice check reports): the first one stands.
    if (this.books.has(P)) return;
    this.books.set(P, { state: fate, provider: call.provider, callNo: call.no });
    if (fate === 'charged') this.emit(call.provider, P, 'Success', 'books');
    if (fate === 'refused') this.emit(call.provider, P, 'Failure', 'books');
  }

  /** A provider finishes an order it was processing: charged or refused, and says so by callback. */
  settleEntry(providerOrderId: string, charged: boolean): void {
    const entry = this.books.get(providerOrderId);
    if (entry?.state !== 'processing') throw new Error(`${providerOrderId} is not processing`);
    entry.state = charged ? 'charged' : 'refused';
    this.emit(entry.provider, providerOrderId, charged ? 'Success' : 'Failure', 'books');
  }

  /** Calls whose outcome is not fixed yet (the request is still in the wire). */
  undecided(providerOrderId?: string): ModelCall[] {
    return this.calls.filter(
      (c) =>
        c.phase === 'arriving' && (providerOrderId === undefined || c.providerOrderId === providerOrderId),
    );
  }

  /**
   * The status API's view. A request still in the wire is settled first (it arrives or is lost):
   * the model's stand-in for the not-found grace period, which exists so that "no record" is only
   * believed once a request can no longer arrive.
   */
  statusOf(providerOrderId: string): BookEntry | undefined {
    for (const call of this.undecided(providerOrderId)) this.decide(call, this.fallbackDecision());
    return this.books.get(providerOrderId);
  }
}

/** One provider of the model: answers recharges as the program decides and status from its books. */
export class ModelProvider implements RechargeProvider {
  readonly name: string;
  readonly supports = { status: true, balance: false } as const;
  readonly #market: Market;

  constructor(name: string, market: Market) {
    this.name = name;
    this.#market = market;
  }

  async recharge(call: RechargeCall): Promise<ProviderAnswer> {
    const market = this.#market;
    const P = call.providerOrderId;
    const earlier = market.calls.filter((c) => c.providerOrderId === P && c.decision?.kind !== 'not_sent');
    if (earlier.length > 0) {
      market.sentTwice.push(
        `${market.alias(P)} sent to ${this.name} again (call #${market.calls.length + 1}) after call #${earlier.map((c) => c.no).join(', #')} may have reached a provider`,
      );
    }
    const model: ModelCall = {
      no: market.calls.length + 1,
      provider: this.name,
      providerOrderId: P,
      task: market.scheduler.current(),
      phase: 'arriving',
    };
    market.calls.push(model);
    await market.scheduler.park(
      'recharge',
      `${this.name}.recharge(${market.alias(P)}) call #${model.no}`,
      model,
    );
    if (model.phase === 'arriving') market.decide(model, market.fallbackDecision());
    model.phase = 'answered';
    const decision = model.decision;
    if (!decision) throw new Error('a call answered without a decision');
    const n = market.nextEvent();
    const answer = (token: string, describe: string) =>
      market.answers.push({ providerOrderId: P, task: model.task, token, describe });
    switch (decision.kind) {
      case 'success':
        answer('Success', `${market.alias(P)} answered Success (call #${model.no})`);
        return { status: 'success', rawStatus: 'Success', providerTxId: `TX${n}`, providerRef: `OPR${n}` };
      case 'refusal': {
        const message = `model refusal e${n}`;
        answer('Failure', `${market.alias(P)} answered Failure (call #${model.no})`);
        return { status: 'failed', rawStatus: 'Failure', providerTxId: `TX${n}`, message };
      }
      case 'pending':
        answer('Pending', `${market.alias(P)} answered Pending (call #${model.no})`);
        return { status: 'pending', rawStatus: 'Pending', providerTxId: `TX${n}` };
      case 'ambiguous': {
        const message = `model timeout after sending e${n}`;
        answer(message, `${market.alias(P)} call #${model.no} timed out (${decision.fate})`);
        throw new ProviderError(this.name, 'ambiguous', message);
      }
      case 'not_sent': {
        const message = `model connection refused e${n}`;
        answer(message, `${market.alias(P)} call #${model.no} not sent`);
        throw new ProviderError(this.name, 'not_sent', message);
      }
    }
  }

  async checkStatus(providerOrderId: string): Promise<ProviderAnswer> {
    const market = this.#market;
    const mode = (await market.scheduler.park(
      'status',
      `${this.name}.checkStatus(${market.alias(providerOrderId)})`,
    )) as StatusMode | undefined;
    if (mode === 'down') throw new ProviderError(this.name, 'ambiguous', 'model status API timed out');
    const entry = market.statusOf(providerOrderId);
    // Another provider's orderid is unknown here.
    if (!entry || entry.provider !== this.name)
      return { status: 'not_found', rawStatus: 'Transaction Not Found' };
    if (entry.state === 'processing' || mode === 'lag') return { status: 'pending', rawStatus: 'Pending' };
    return entry.state === 'charged'
      ? { status: 'success', rawStatus: 'Success', providerRef: `OPS${entry.callNo}` }
      : { status: 'failed', rawStatus: 'Failure', message: 'model books: refused' };
  }

  async getBalance(): Promise<ProviderBalance> {
    throw new ProviderError(this.name, 'failed', 'the model has no balance API');
  }

  async close(): Promise<void> {}
}
