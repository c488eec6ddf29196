import { formatRupees, maskNumber, type Paise, parseRupees } from '@rechargeflow/domain';
import { type AnswerFields, answerFormat, renderAnswer, renderBalance, type WireStatus } from './answers.ts';
import { BEHAVIOURS, type Behaviour, magicBehaviour, type Outcome } from './behaviours.ts';
import {
  type CallbackRecord,
  type CallbackSender,
  type CallbackStatus,
  type CallbackTrigger,
  createCallbackSender,
} from './callbacks.ts';
import {
  type CallbackRequest,
  type ForcedStatus,
  faultRateSum,
  type ReverseOptions,
  type RuntimeConfig,
  type RuntimeConfigPatch,
  runtimeConfigSchema,
  type Script,
} from './config.ts';
import { SimulatorError } from './errors.ts';
import { createPrng, keyedDraw } from './prng.ts';

/** pino-compatible subset, so the app can pass its logger. */
export interface SimulatorLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RequestInfo {
  readonly method: string;
  /** Path and query string as received: lets tests prove no secret travels in a URL. */
  readonly url: string;
}

export type Endpoint = 'recharge' | 'status' | 'balance';

export interface RequestLogEntry extends RequestInfo {
  readonly endpoint: Endpoint;
  readonly at: string;
}

export interface SendAction {
  readonly kind: 'send';
  readonly statusCode: number;
  readonly contentType: string;
  readonly body: string | Buffer;
}

/** What the HTTP layer must do, after waiting `delayMs`. */
export interface ReplyPlan {
  readonly delayMs: number;
  /** Awaited after `delayMs`, before the action: a callback that must arrive before the answer. */
  readonly beforeSend?: (() => Promise<unknown>) | undefined;
  /** Called once the answer has been sent (or the connection closed): a callback that follows it. */
  readonly afterSend?: (() => void) | undefined;
  readonly action:
    | SendAction
    | { readonly kind: 'hold'; readonly holdMs: number }
    /** The answer's bytes one at a time, `byteMs` apart (a slow-loris provider); Content-Length set. */
    | {
        readonly kind: 'trickle';
        readonly statusCode: number;
        readonly contentType: string;
        readonly body: string;
        readonly byteMs: number;
      }
    | { readonly kind: 'reset' };
}

export type OrderStatus = 'success' | 'failed' | 'pending';

/** When the callback of a definite answer went, relative to the answer (`answerCallback`). */
export type AnswerCallbackTiming = 'before' | 'after';

/** One line of the provider's books (`GET /_sim/orders`): what it received and what it charged. */
export interface BookEntry {
  readonly orderid: string;
  /** Rupees, as the provider writes them. */
  readonly amount: string;
  readonly status: OrderStatus;
  /** The recharge was carried out and stands (status success): money left the balance for it. */
  readonly charged: boolean;
  readonly reversed: boolean;
  /** Recharge requests that carried this orderid (more than 1: it was sent again). */
  readonly submissions: number;
  readonly behaviour: Behaviour;
  readonly answerCallback?: AnswerCallbackTiming | undefined;
  readonly createdAt: string;
}

export interface OrderView {
  readonly orderid: string;
  readonly txid: string;
  readonly opid: string;
  readonly status: OrderStatus;
  readonly reversed: boolean;
  readonly message?: string | undefined;
  readonly behaviour: Behaviour;
  readonly source: 'script' | 'magic' | 'random' | 'default';
  /** How many recharge requests carried this orderid (1 = never repeated). */
  readonly submissions: number;
  readonly statusChecks: number;
  readonly number: string;
  /** Rupees, as the provider writes them. */
  readonly amount: string;
  readonly operator: string;
  readonly circle?: string | undefined;
  readonly createdAt: string;
  readonly settledAt?: string | undefined;
  readonly reversedAt?: string | undefined;
  readonly requests: readonly RequestInfo[];
  /** Finished deliveries, in the order they were started (`seq`). */
  readonly callbacks: readonly CallbackRecord[];
  /** Set by `POST /_sim/status/:orderid`: what the status API answers instead of `status`. */
  readonly forcedStatus?: ForcedStatus | undefined;
  /** Whether the callback of its answer (`answerCallback`) went before or after the answer. */
  readonly answerCallback?: AnswerCallbackTiming | undefined;
}

/** What `POST /_sim/callbacks` (and `POST /_sim/reverse`) sent, once every delivery has finished. */
export interface CallbackBatch {
  readonly orderid: string;
  readonly target: 'configured' | 'given';
  /** The elements as sent (opids filled in), in order. */
  readonly sequence: readonly { readonly status: CallbackStatus; readonly opid: string }[];
  readonly copies: number;
  readonly concurrent: boolean;
  readonly gapMs: number;
  readonly sent: number;
  readonly delivered: number;
  /** One per delivery, in start order; fewer than sequence × copies only if the simulator closed. */
  readonly deliveries: readonly CallbackRecord[];
}

export interface ReverseResult {
  readonly order: OrderView;
  /** The reversal's Failure callbacks (none when `callback: false` or no callbackUrl). */
  readonly callbacks: readonly CallbackRecord[];
}

export interface SimulatorStats {
  readonly seed: number;
  readonly orders: number;
  readonly submissions: number;
  readonly duplicates: number;
  readonly byStatus: Readonly<Record<OrderStatus, number>>;
  readonly reversed: number;
  readonly byBehaviour: Readonly<Record<Behaviour, number>>;
  readonly requests: Readonly<Record<Endpoint, number>>;
  readonly authFailures: number;
  /** Recharge requests refused for missing or bad parameters (no order recorded). */
  readonly rejected: number;
  readonly callbacks: { readonly sent: number; readonly delivered: number; readonly failed: number };
  /** Orders whose answer's callback (`answerCallback`) was delivered before / started after the answer. */
  readonly answerCallbacks: { readonly before: number; readonly after: number };
  /** Remaining balance in rupees, and in paise. */
  readonly balance: string;
  readonly balancePaise: number;
  /** TCP connections accepted by the simulator's server (both parts): shows whether clients reuse them. */
  readonly connections: number;
  /**
   * Connections that carried at least one recharge (A1Topup `/recharge/api`, Telgoo5 `/topup`):
   * equal to the recharge requests when each recharge had a connection of its own.
   */
  readonly rechargeConnections: number;
}

interface OrderRecord {
  readonly orderid: string;
  readonly txid: string;
  readonly opid: string;
  readonly number: string;
  readonly amount: Paise;
  readonly operator: string;
  readonly circle: string | undefined;
  readonly behaviour: Behaviour;
  readonly source: OrderView['source'];
  readonly createdAt: string;
  readonly requests: RequestInfo[];
  readonly callbacks: CallbackRecord[];
  status: OrderStatus;
  forcedStatus: ForcedStatus | undefined;
  message: string | undefined;
  submissions: number;
  statusChecks: number;
  settledAt: string | undefined;
  reversedAt: string | undefined;
  /** Set while pending: the state it will settle into. */
  pendingFinal: 'success' | 'failed' | undefined;
  /** Set while a success waits for its scheduled reversal. */
  reversalDue: boolean;
  answerCallback: AnswerCallbackTiming | undefined;
  timer: NodeJS.Timeout | undefined;
}

export interface EngineOptions {
  readonly username: string;
  readonly password: string;
  readonly initialBalancePaise: number;
  readonly seed: number;
  readonly config: RuntimeConfig;
  readonly logger?: SimulatorLogger | undefined;
}

const MAX_REQUESTS_PER_ORDER = 100;
/** Behaviours whose answer is the order's real, definite result (when not pending). */
const DEFINITE_ANSWERS: ReadonlySet<Behaviour> = new Set([
  'success',
  'failure',
  'reversal_after_success',
  'slow',
]);
const MAX_CALLBACKS_PER_ORDER = 1_000;
const MAX_REQUEST_LOG = 1_000;

const GARBAGE = '#!ERR 0x1F ~~ ??? <<unexpected>> ;; 7f 00 ff\n';
const HTML =
  '<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>' +
  '<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>';

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function first(params: Record<string, unknown>, key: string): string | undefined {
  const value = params[key];
  const one = Array.isArray(value) ? value[0] : value;
  if (typeof one === 'string') return one.trim();
  if (typeof one === 'number') return String(one);
  return undefined;
}

/** The simulated provider: state, decisions and answers, with no HTTP in it. */
export function createEngine(options: EngineOptions) {
  let config: RuntimeConfig = { ...options.config };
  let prng = createPrng(options.seed);
  let txSeq = 0;
  let balance = options.initialBalancePaise;
  const orders = new Map<string, OrderRecord>();
  const orderScripts = new Map<string, Script>();
  const numberScripts = new Map<string, { script: Script; remaining: number }>();
  let requestLog: RequestLogEntry[] = [];
  const counters = {
    submissions: 0,
    duplicates: 0,
    authFailures: 0,
    rejected: 0,
    requests: zeroCounts<Endpoint>(['recharge', 'status', 'balance']),
    callbacks: { sent: 0, delivered: 0, failed: 0 },
    answerCallbacks: { before: 0, after: 0 },
    connections: 0,
    rechargeConnections: 0,
  };
  const callbacks: CallbackSender = createCallbackSender();
  const log = options.logger;
  let callbackSeq = 0;
  // Callback batches in flight, and their pauses: close waits for the first and cuts the second short.
  const batches = new Set<Promise<unknown>>();
  const pauses = new Set<() => void>();
  let closing = false;

  function pause(ms: number): Promise<void> {
    if (closing || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      pauses.add(wake);
    });
  }

  function track<T>(batch: Promise<T>): Promise<T> {
    batches.add(batch);
    void batch.finally(() => batches.delete(batch));
    return batch;
  }

  function note(endpoint: Endpoint, request: RequestInfo): void {
    counters.requests[endpoint] += 1;
    requestLog.push({ ...request, endpoint, at: new Date().toISOString() });
    if (requestLog.length > MAX_REQUEST_LOG) requestLog = requestLog.slice(-MAX_REQUEST_LOG);
  }

  function authorised(params: Record<string, unknown>): boolean {
    const ok = first(params, 'username') === options.username && first(params, 'pwd') === options.password;
    if (!ok) counters.authFailures += 1;
    return ok;
  }

  function send(statusCode: number, contentType: string, body: string | Buffer, delayMs = config.latencyMs) {
    return { delayMs, action: { kind: 'send', statusCode, contentType, body } } satisfies ReplyPlan;
  }

  function answer(
    params: Record<string, unknown>,
    fields: AnswerFields,
    delayMs = config.latencyMs,
  ): ReplyPlan {
    const rendered = renderAnswer(answerFormat(first(params, 'format')), fields, config.xmlStyle);
    return send(200, rendered.contentType, rendered.body, delayMs);
  }

  function refusal(params: Record<string, unknown>, message: string, echo: Partial<AnswerFields> = {}) {
    return answer(params, {
      txid: '0',
      status: 'Failure',
      opid: '',
      number: echo.number ?? '',
      amount: echo.amount ?? '',
      orderid: echo.orderid ?? '',
      message,
    });
  }

  function wireStatus(status: OrderStatus): WireStatus {
    return status === 'success' ? 'Success' : status === 'failed' ? 'Failure' : 'Pending';
  }

  function fieldsOf(order: OrderRecord): AnswerFields {
    return {
      txid: order.txid,
      status: wireStatus(order.status),
      opid: order.status === 'failed' ? '' : order.opid,
      number: order.number,
      amount: formatRupees(order.amount),
      orderid: order.orderid,
      message: order.message,
    };
  }

  /** A forced status answer: shaped like a real one in that state, the rest of the order unchanged. */
  function forcedFields(order: OrderRecord, forced: ForcedStatus): AnswerFields {
    const real = fieldsOf(order);
    if (forced === 'Failure')
      return {
        ...real,
        status: 'Failure',
        opid: '',
        message: order.message ?? 'Recharge failed at operator',
      };
    return { ...real, status: forced, opid: order.opid, message: undefined };
  }

  /** One PRNG draw per new order, scripted or not, so a seed replays the same random sequence. */
  function decide(
    orderid: string,
    number: string,
    amount: Paise,
  ): { behaviour: Behaviour; source: OrderView['source']; script?: Script } {
    const draw = prng();
    const byOrder = orderScripts.get(orderid);
    if (byOrder) {
      orderScripts.delete(orderid);
      return { behaviour: byOrder.behaviour, source: 'script', script: byOrder };
    }
    const byNumber = numberScripts.get(number);
    if (byNumber) {
      byNumber.remaining -= 1;
      if (byNumber.remaining <= 0) numberScripts.delete(number);
      return { behaviour: byNumber.script.behaviour, source: 'script', script: byNumber.script };
    }
    if (config.magicAmounts) {
      const magic = magicBehaviour(amount);
      if (magic) return { behaviour: magic, source: 'magic' };
    }
    const buckets: [number, Behaviour][] = [
      [config.serverErrorRate, 'server_error'],
      [config.timeoutRate, 'timeout'],
      [config.resetRate, 'reset'],
      [config.garbageRate, 'garbage'],
      [config.failureRate, 'failure'],
      [config.pendingRate, 'pending_then_success'],
    ];
    let edge = 0;
    for (const [rate, behaviour] of buckets) {
      edge += rate;
      if (draw < edge) return { behaviour, source: 'random' };
    }
    return { behaviour: 'success', source: 'default' };
  }

  function outcomeOf(behaviour: Behaviour, script: Script | undefined): Outcome | 'reversal' {
    switch (behaviour) {
      case 'success':
        return 'success';
      case 'failure':
        return 'failure';
      case 'pending_then_success':
      case 'pending_then_failure':
        return 'pending';
      case 'reversal_after_success':
        return 'reversal';
      default:
        return script?.outcome ?? 'success';
    }
  }

  function schedule(order: OrderRecord, afterMs: number): void {
    if (order.timer) clearTimeout(order.timer);
    order.timer = setTimeout(() => {
      order.timer = undefined;
      advance(order);
    }, afterMs);
  }

  interface BatchPlan {
    readonly url: string;
    readonly target: CallbackRecord['target'];
    readonly trigger: CallbackTrigger;
    readonly sequence: readonly { readonly status: CallbackStatus; readonly opid: string }[];
    readonly copies: number;
    readonly concurrent: boolean;
    readonly gapMs: number;
  }

  async function deliverOne(
    order: OrderRecord,
    plan: BatchPlan,
    element: number,
    copy: number,
  ): Promise<CallbackRecord> {
    const item = plan.sequence[element]!;
    callbackSeq += 1;
    const seq = callbackSeq;
    counters.callbacks.sent += 1;
    const result = await callbacks.send(
      plan.url,
      { txid: order.orderid, status: item.status, opid: item.opid },
      config.callbackTimeoutMs,
    );
    const record: CallbackRecord = {
      seq,
      status: item.status,
      opid: item.opid,
      trigger: plan.trigger,
      element,
      copy,
      copies: plan.copies,
      target: plan.target,
      ...result,
    };
    if (order.callbacks.length < MAX_CALLBACKS_PER_ORDER) order.callbacks.push(record);
    if (record.delivered) counters.callbacks.delivered += 1;
    else {
      counters.callbacks.failed += 1;
      // Never the URL: its path carries the receiver's token.
      log?.warn(
        {
          orderid: order.orderid,
          status: item.status,
          trigger: plan.trigger,
          copy,
          httpStatus: record.httpStatus,
          error: record.error,
        },
        'simulator callback not delivered',
      );
    }
    return record;
  }

  /** Element after element (gapMs apart); the copies of one element in turn, or all at once. */
  async function deliverBatch(order: OrderRecord, plan: BatchPlan): Promise<CallbackRecord[]> {
    const records: CallbackRecord[] = [];
    const copyNumbers = Array.from({ length: plan.copies }, (_, i) => i + 1);
    for (let element = 0; element < plan.sequence.length; element += 1) {
      if (element > 0) await pause(plan.gapMs);
      if (closing) break;
      if (plan.concurrent) {
        records.push(
          ...(await Promise.all(copyNumbers.map((copy) => deliverOne(order, plan, element, copy)))),
        );
      } else {
        for (const copy of copyNumbers) {
          if (closing) break;
          records.push(await deliverOne(order, plan, element, copy));
        }
      }
    }
    return records;
  }

  /** The automatic callback of a late result, a reversal or an answer, sent as the callback knobs say. */
  function notify(
    order: OrderRecord,
    status: CallbackStatus,
    trigger: 'settle' | 'reversal' | 'answer',
  ): Promise<CallbackRecord[]> {
    const url = config.callbackUrl;
    if (!url || closing) return Promise.resolve([]);
    return track(
      deliverBatch(order, {
        url,
        target: 'configured',
        trigger,
        sequence: [{ status, opid: order.opid }],
        copies: config.callbackCopies,
        concurrent: config.callbackConcurrent,
        gapMs: 0,
      }),
    );
  }

  function reverseNow(order: OrderRecord): void {
    if (order.timer) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
    order.status = 'failed';
    order.reversalDue = false;
    order.reversedAt = new Date().toISOString();
    order.message = 'Reversed after dispute';
    balance += order.amount;
    log?.info({ orderid: order.orderid }, 'simulator order reversed');
  }

  /** Moves an order to its next scheduled state: pending → final, or success → reversed. */
  function advance(order: OrderRecord): boolean {
    if (order.timer) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
    const now = new Date().toISOString();
    if (order.status === 'pending' && order.pendingFinal) {
      order.status = order.pendingFinal;
      order.pendingFinal = undefined;
      order.settledAt = now;
      if (order.status === 'failed') {
        balance += order.amount;
        order.message = 'Recharge failed at operator';
      }
      log?.info({ orderid: order.orderid, status: order.status }, 'simulator order settled');
      void notify(order, order.status === 'success' ? 'Success' : 'Failure', 'settle');
      return true;
    }
    if (order.status === 'success' && order.reversalDue) {
      reverseNow(order);
      void notify(order, 'Failure', 'reversal');
      return true;
    }
    return false;
  }

  function faultPlan(
    order: OrderRecord,
    params: Record<string, unknown>,
    script: Script | undefined,
  ): ReplyPlan {
    const latency = config.latencyMs;
    switch (order.behaviour) {
      case 'slow':
        return answer(params, fieldsOf(order), latency + (script?.delayMs ?? config.slowMs));
      case 'timeout':
        return { delayMs: latency, action: { kind: 'hold', holdMs: config.holdMs } };
      case 'reset':
        return { delayMs: latency, action: { kind: 'reset' } };
      case 'garbage':
        return send(200, 'text/plain; charset=utf-8', GARBAGE);
      case 'html':
        return send(200, 'text/html; charset=utf-8', HTML);
      case 'empty':
        return send(200, 'text/plain; charset=utf-8', '');
      case 'server_error':
        return send(
          500,
          'text/html; charset=utf-8',
          '<html><body><h1>500 Internal Server Error</h1></body></html>',
        );
      case 'trickle': {
        // A real answer, one byte at a time: only a client that waits out every byte may read it.
        const real = renderAnswer(answerFormat(first(params, 'format')), fieldsOf(order), config.xmlStyle);
        return {
          delayMs: latency,
          action: {
            kind: 'trickle',
            statusCode: 200,
            contentType: real.contentType,
            body: real.body,
            byteMs: config.trickleByteMs,
          },
        };
      }
      case 'oversize': {
        // A real answer first, then padding: a client that parsed a truncated prefix would be fooled.
        const head = renderAnswer(answerFormat(first(params, 'format')), fieldsOf(order), config.xmlStyle);
        const body = Buffer.alloc(Math.max(config.oversizeBytes, head.body.length + 1), ' ');
        body.write(head.body, 0, 'utf8');
        return send(200, head.contentType, body);
      }
      default:
        return answer(params, fieldsOf(order));
    }
  }

  /**
   * `answerCallback`: a definite answer's result also goes out as a callback, before the answer (the
   * answer waits for its delivery) or after it, `answerCallbackGapMs` at most apart. Side and gap
   * are fixed per order, so a seed replays them.
   */
  function withAnswerCallback(order: OrderRecord, plan: ReplyPlan): ReplyPlan {
    const mode = config.answerCallback;
    if (mode === 'off' || !config.callbackUrl) return plan;
    if (!DEFINITE_ANSWERS.has(order.behaviour) || order.status === 'pending') return plan;
    const timing: AnswerCallbackTiming =
      mode === 'race' ? (keyedDraw(options.seed, order.orderid) < 0.5 ? 'before' : 'after') : mode;
    const gapMs = Math.floor(keyedDraw(options.seed, `${order.orderid}:gap`) * config.answerCallbackGapMs);
    order.answerCallback = timing;
    counters.answerCallbacks[timing] += 1;
    const status: CallbackStatus = order.status === 'success' ? 'Success' : 'Failure';
    if (timing === 'before')
      return {
        ...plan,
        beforeSend: async () => {
          await notify(order, status, 'answer');
          await pause(gapMs);
        },
      };
    return { ...plan, afterSend: () => void pause(gapMs).then(() => notify(order, status, 'answer')) };
  }

  function recharge(params: Record<string, unknown>, request: RequestInfo): ReplyPlan {
    note('recharge', request);
    if (!authorised(params)) return refusal(params, 'Invalid username or password');

    const orderid = first(params, 'orderid') ?? '';
    const number = first(params, 'number') ?? '';
    const amountText = first(params, 'amount') ?? '';
    const operator = first(params, 'operatorcode') ?? '';
    const echo = { orderid, number, amount: amountText };

    // A repeat is counted and answered with the original transaction, never executed again.
    const existing = orderid ? orders.get(orderid) : undefined;
    if (existing) {
      counters.submissions += 1;
      counters.duplicates += 1;
      existing.submissions += 1;
      if (existing.requests.length < MAX_REQUESTS_PER_ORDER) existing.requests.push(request);
      log?.warn({ orderid, submissions: existing.submissions }, 'simulator got a repeated orderid');
      return answer(params, fieldsOf(existing));
    }

    const missing = (['operatorcode', 'number', 'amount', 'orderid'] as const).filter(
      (k) => !first(params, k),
    );
    if (missing.length > 0) {
      counters.rejected += 1;
      return refusal(params, `Missing parameter: ${missing.join(', ')}`, echo);
    }
    const amount = parseRupees(amountText);
    if (amount === null || amount <= 0) {
      counters.rejected += 1;
      return refusal(params, 'Invalid amount', echo);
    }

    const { behaviour, source, script } = decide(orderid, number, amount);
    txSeq += 1;
    const txid = String(100_000 + txSeq);
    const order: OrderRecord = {
      orderid,
      txid,
      opid: `OP${txid}${String(amount).padStart(6, '0')}`,
      number,
      amount,
      operator: operator.toUpperCase(),
      circle: first(params, 'circlecode') || undefined,
      behaviour,
      source,
      createdAt: new Date().toISOString(),
      requests: [request],
      callbacks: [],
      status: 'pending',
      forcedStatus: undefined,
      message: undefined,
      submissions: 1,
      statusChecks: 0,
      settledAt: undefined,
      reversedAt: undefined,
      pendingFinal: undefined,
      reversalDue: false,
      answerCallback: undefined,
      timer: undefined,
    };
    // Recorded before any answer is decided, so a lost answer still counts as received.
    orders.set(orderid, order);
    counters.submissions += 1;

    const outcome = outcomeOf(behaviour, script);
    const settleAfter = script?.settleAfterMs ?? config.settleAfterMs;
    if (outcome === 'failure') {
      order.status = 'failed';
      order.message = 'Recharge failed at operator';
    } else if (order.amount > balance) {
      order.status = 'failed';
      order.message = 'Insufficient balance';
    } else {
      balance -= order.amount;
      if (outcome === 'pending') {
        order.status = 'pending';
        order.pendingFinal = behaviour === 'pending_then_failure' ? 'failed' : 'success';
        schedule(order, settleAfter);
      } else {
        order.status = 'success';
        if (outcome === 'reversal') {
          order.reversalDue = true;
          schedule(order, settleAfter);
        }
      }
    }
    if (order.status !== 'pending') order.settledAt = order.createdAt;
    log?.info(
      {
        orderid,
        number: maskNumber(number),
        amount: formatRupees(amount),
        operator: order.operator,
        behaviour,
        status: order.status,
      },
      'simulator recharge received',
    );
    return withAnswerCallback(order, faultPlan(order, params, script));
  }

  function status(params: Record<string, unknown>, request: RequestInfo): ReplyPlan {
    note('status', request);
    if (!authorised(params)) return refusal(params, 'Invalid username or password');
    const orderid = first(params, 'orderid') ?? '';
    if (!orderid) return refusal(params, 'Missing parameter: orderid');
    const order = orders.get(orderid);
    if (!order) return refusal(params, 'No record found', { orderid });
    order.statusChecks += 1;
    return answer(params, order.forcedStatus ? forcedFields(order, order.forcedStatus) : fieldsOf(order));
  }

  function balanceAnswer(params: Record<string, unknown>, request: RequestInfo): ReplyPlan {
    note('balance', request);
    const format = answerFormat(first(params, 'format'));
    const rendered = authorised(params)
      ? renderBalance(format, 'Success', formatRupees(balance as Paise))
      : renderBalance(format, 'Failure', 'Invalid username or password');
    return send(200, rendered.contentType, rendered.body);
  }

  function view(order: OrderRecord): OrderView {
    return {
      orderid: order.orderid,
      txid: order.txid,
      opid: order.opid,
      status: order.status,
      reversed: order.reversedAt !== undefined,
      message: order.message,
      behaviour: order.behaviour,
      source: order.source,
      submissions: order.submissions,
      statusChecks: order.statusChecks,
      number: order.number,
      amount: formatRupees(order.amount),
      operator: order.operator,
      circle: order.circle,
      createdAt: order.createdAt,
      settledAt: order.settledAt,
      reversedAt: order.reversedAt,
      requests: [...order.requests],
      callbacks: [...order.callbacks].sort((a, b) => a.seq - b.seq),
      forcedStatus: order.forcedStatus,
      answerCallback: order.answerCallback,
    };
  }

  function bookEntry(order: OrderRecord): BookEntry {
    return {
      orderid: order.orderid,
      amount: formatRupees(order.amount),
      status: order.status,
      charged: order.status === 'success',
      reversed: order.reversedAt !== undefined,
      submissions: order.submissions,
      behaviour: order.behaviour,
      answerCallback: order.answerCallback,
      createdAt: order.createdAt,
    };
  }

  function stats(): SimulatorStats {
    const byStatus = zeroCounts<OrderStatus>(['success', 'failed', 'pending']);
    const byBehaviour = zeroCounts<Behaviour>(BEHAVIOURS);
    let reversed = 0;
    for (const order of orders.values()) {
      byStatus[order.status] += 1;
      byBehaviour[order.behaviour] += 1;
      if (order.reversedAt) reversed += 1;
    }
    return {
      seed: options.seed,
      orders: orders.size,
      submissions: counters.submissions,
      duplicates: counters.duplicates,
      byStatus,
      reversed,
      byBehaviour,
      requests: { ...counters.requests },
      authFailures: counters.authFailures,
      rejected: counters.rejected,
      callbacks: { ...counters.callbacks },
      answerCallbacks: { ...counters.answerCallbacks },
      balance: formatRupees(balance as Paise),
      balancePaise: balance,
      connections: counters.connections,
      rechargeConnections: counters.rechargeConnections,
    };
  }

  function known(orderid: string): OrderRecord {
    const order = orders.get(orderid);
    if (!order) throw new SimulatorError(404, 'no such order');
    return order;
  }

  function clearTimers(): void {
    for (const order of orders.values()) {
      if (order.timer) clearTimeout(order.timer);
      order.timer = undefined;
    }
  }

  return {
    recharge,
    status,
    balance: balanceAnswer,
    stats,
    connectionAccepted(): void {
      counters.connections += 1;
    },
    rechargeConnectionUsed(): void {
      counters.rechargeConnections += 1;
    },
    order(orderid: string): OrderView | undefined {
      const order = orders.get(orderid);
      return order ? view(order) : undefined;
    },
    requests(): readonly RequestLogEntry[] {
      return [...requestLog];
    },
    /** Every order received, oldest first: the provider's books. */
    books(): BookEntry[] {
      return [...orders.values()].map(bookEntry);
    },
    /** Adds a script; an orderid script wins over a number script. */
    script(script: Script): void {
      if (script.orderid !== undefined) orderScripts.set(script.orderid, script);
      else if (script.number !== undefined)
        numberScripts.set(script.number, { script, remaining: script.times ?? 1 });
    },
    config(): RuntimeConfig {
      return { ...config };
    },
    /** Validates the merged config as a whole (fault rates must still add up to at most 1). */
    configure(patch: RuntimeConfigPatch): RuntimeConfig {
      const next = runtimeConfigSchema.parse({ ...config, ...patch });
      config = next;
      // The callback URL may carry a token in its path: never logged.
      const { callbackUrl, ...knobs } = config;
      log?.info(
        { ...knobs, callbacks: callbackUrl !== null, faultRateSum: faultRateSum(config) },
        'simulator config changed',
      );
      return { ...config };
    },
    /** Forces the next scheduled transition now; `undefined` when unknown, `false` when nothing is due. */
    settle(orderid: string): OrderView | false | undefined {
      const order = orders.get(orderid);
      if (!order) return undefined;
      return advance(order) ? view(order) : false;
    },
    /**
     * Sends callbacks for an order now and resolves once every delivery has finished (each bounded
     * by callbackTimeoutMs). Throws SimulatorError: 404 unknown order, 409 no URL or, without a
     * sequence, a pending order (there is no Pending callback).
     */
    async sendCallbacks(request: CallbackRequest): Promise<CallbackBatch> {
      const order = known(request.orderid);
      const url = request.url ?? config.callbackUrl;
      if (!url) throw new SimulatorError(409, 'no callbackUrl configured and no url given');
      let sequence = request.sequence;
      if (!sequence) {
        if (order.status === 'pending')
          throw new SimulatorError(409, 'the order is pending: give a sequence of Success/Failure');
        sequence = [{ status: order.status === 'success' ? 'Success' : 'Failure' }];
      }
      const plan: BatchPlan = {
        url,
        target: request.url ? 'given' : 'configured',
        trigger: 'manual',
        sequence: sequence.map((item) => ({ status: item.status, opid: item.opid ?? order.opid })),
        copies: request.copies ?? 1,
        concurrent: request.concurrent ?? false,
        gapMs: request.gapMs ?? 0,
      };
      log?.info(
        {
          orderid: order.orderid,
          sequence: plan.sequence.map((item) => item.status),
          copies: plan.copies,
          concurrent: plan.concurrent,
          gapMs: plan.gapMs,
          target: plan.target,
        },
        'simulator sending callbacks on request',
      );
      const deliveries = await track(deliverBatch(order, plan));
      return {
        orderid: order.orderid,
        target: plan.target,
        sequence: plan.sequence,
        copies: plan.copies,
        concurrent: plan.concurrent,
        gapMs: plan.gapMs,
        sent: deliveries.length,
        delivered: deliveries.filter((d) => d.delivered).length,
        deliveries,
      };
    },
    /**
     * Reverses a Success order now (status API: Failure; balance restored; a scheduled reversal is
     * cancelled) and, unless `callback: false`, sends its Failure callback as the callback knobs say,
     * resolving after delivery. Throws SimulatorError: 404 unknown, 409 not Success.
     */
    async reverse(orderid: string, options: ReverseOptions = {}): Promise<ReverseResult> {
      const order = known(orderid);
      if (order.status !== 'success')
        throw new SimulatorError(409, `only a Success order can be reversed; this one is ${order.status}`);
      reverseNow(order);
      const sent = options.callback === false ? [] : await notify(order, 'Failure', 'reversal');
      return { order: view(order), callbacks: sent };
    },
    /** What the status API answers for this order from now on; `null` answers the real state again. */
    forceStatus(orderid: string, status: ForcedStatus | null): OrderView {
      const order = known(orderid);
      order.forcedStatus = status ?? undefined;
      log?.info({ orderid, forcedStatus: status }, 'simulator status answer forced');
      return view(order);
    },
    /** Forgets every order, script and counter, restores the balance and replays the seed. */
    reset(): void {
      clearTimers();
      orders.clear();
      orderScripts.clear();
      numberScripts.clear();
      requestLog = [];
      txSeq = 0;
      balance = options.initialBalancePaise;
      prng = createPrng(options.seed);
      counters.submissions = 0;
      counters.duplicates = 0;
      counters.authFailures = 0;
      counters.rejected = 0;
      counters.requests = zeroCounts<Endpoint>(['recharge', 'status', 'balance']);
      counters.callbacks = { sent: 0, delivered: 0, failed: 0 };
      counters.answerCallbacks = { before: 0, after: 0 };
      counters.connections = 0;
      counters.rechargeConnections = 0;
      callbackSeq = 0;
    },
    /** Stops timers and further copies or elements; waits for deliveries already started. */
    async close(): Promise<void> {
      closing = true;
      clearTimers();
      for (const wake of [...pauses]) wake();
      await Promise.allSettled([...batches]);
      await callbacks.close();
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
