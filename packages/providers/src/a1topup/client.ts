import {
  type FailureClass,
  formatRupees,
  ID_PATTERN,
  maskNumber,
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from '@rechargeflow/domain';
import {
  transportDetail as describeTransport,
  excerptOf,
  failureMessage,
  providerPools,
  safeCopy,
} from '../failure-text.ts';
import { classifyHttpStatus, classifyTransportError } from './classify.ts';
import { exchange, type RawAnswer } from './http.ts';
import { interpretAnswer } from './interpret.ts';
import { type A1TopupOptions, type A1TopupSettings, resolveA1TopupOptions } from './options.ts';
import { parseAnswerBody, parseBalanceBody } from './parse.ts';

const DEFAULT_NAME = 'a1topup';

type Operation = 'recharge' | 'status' | 'balance';

/** Safe facts about a call, for error messages and context: no password, no full number. */
interface CallFacts {
  readonly operation: Operation;
  readonly orderid?: string;
  readonly number?: string;
  readonly amount?: string;
}

const CONSEQUENCE: Record<FailureClass, string> = {
  not_sent: 'not sent, safe to retry',
  failed: 'refused, not carried out',
  ambiguous: 'outcome unknown, only a status check or callback may settle it',
};

const OPERATOR_PATTERN = /^[A-Za-z0-9]{1,16}$/;
const CIRCLE_PATTERN = /^[A-Za-z0-9]{1,8}$/;
const NUMBER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9./-]{0,39}$/;
const EXTRA_PATTERN = /^[\x20-\x7e]{0,64}$/;

/** Problems with a call, checked before anything is sent; messages never echo the values. */
function callProblems(call: RechargeCall): { field: string; message: string }[] {
  const { request } = call;
  const problems: { field: string; message: string }[] = [];
  if (!ID_PATTERN.test(call.providerOrderId)) {
    problems.push({ field: 'orderid', message: 'must be 1-64 letters, digits, dot, dash or underscore' });
  }
  if (!OPERATOR_PATTERN.test(request.operator)) {
    problems.push({ field: 'operatorcode', message: 'must be 1-16 letters or digits' });
  }
  if (request.circle !== undefined && !CIRCLE_PATTERN.test(request.circle)) {
    problems.push({ field: 'circlecode', message: 'must be 1-8 letters or digits' });
  }
  if (!NUMBER_PATTERN.test(request.number)) {
    problems.push({ field: 'number', message: 'must be 1-40 letters, digits, dot, dash or slash' });
  }
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
    problems.push({ field: 'amount', message: 'must be a positive amount' });
  }
  for (const key of ['value1', 'value2'] as const) {
    const value = request[key];
    if (value !== undefined && !EXTRA_PATTERN.test(value)) {
      problems.push({ field: key, message: 'must be at most 64 printable characters' });
    }
  }
  return problems;
}

export function createA1TopupProvider(options: A1TopupOptions): RechargeProvider {
  const settings: A1TopupSettings = resolveA1TopupOptions(options);
  const PROVIDER = options.name ?? DEFAULT_NAME;
  const pools = providerPools(settings.origin, settings, settings.rechargeKeepAliveMs);
  let closed = false;

  /** The password removed, long digit runs masked. */
  const scrub = (text: string) =>
    text
      .split(settings.password)
      .join('***')
      .replace(/\d{6,}/g, (digits) => maskNumber(digits));
  const excerpt = (body: string) => excerptOf(body, scrub, 120);
  const safeCause = (error: unknown) => safeCopy(error, scrub, 120);
  const transportDetail = (reason: string) => describeTransport(reason, settings);

  function providerError(
    failureClass: FailureClass,
    reason: string,
    detail: string,
    facts: CallFacts,
    extra: {
      httpStatus?: number;
      body?: string;
      cause?: unknown;
      elapsedMs?: number;
      fields?: string[];
    } = {},
  ): ProviderError {
    const message = failureMessage(
      PROVIDER,
      facts.operation,
      [
        facts.orderid ? `order ${facts.orderid}` : undefined,
        facts.number ? `number ${facts.number}` : undefined,
        facts.amount ? `amount ${facts.amount}` : undefined,
      ],
      detail,
      CONSEQUENCE[failureClass],
    );
    return new ProviderError(PROVIDER, failureClass, message, {
      context: {
        ...facts,
        reason,
        ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
        ...(extra.body !== undefined ? { body: excerpt(extra.body) } : {}),
        ...(extra.elapsedMs !== undefined ? { elapsedMs: extra.elapsedMs } : {}),
        ...(extra.fields ? { fields: extra.fields } : {}),
      },
      cause: extra.cause,
    });
  }

  async function send(path: string, form: URLSearchParams, facts: CallFacts): Promise<RawAnswer> {
    if (closed) throw providerError('not_sent', 'closed', transportDetail('closed'), facts);
    const started = performance.now();
    const signal = AbortSignal.timeout(settings.timeoutMs);
    try {
      const isRecharge = facts.operation === 'recharge';
      return await exchange(isRecharge ? pools.recharge : pools.read, {
        path: `${settings.pathPrefix}${path}`,
        form,
        signal,
        maxResponseBytes: settings.maxResponseBytes,
        freshConnection: isRecharge && pools.freshRecharge,
      });
    } catch (error) {
      const { failureClass, reason } = classifyTransportError(error, signal.aborted);
      throw providerError(failureClass, reason, transportDetail(reason), facts, {
        cause: safeCause(error),
        elapsedMs: Math.round(performance.now() - started),
      });
    }
  }

  function credentials(): Record<string, string> {
    return { username: settings.username, pwd: settings.password };
  }

  async function recharge(call: RechargeCall): Promise<ProviderAnswer> {
    const { request } = call;
    const facts: CallFacts = {
      operation: 'recharge',
      orderid: call.providerOrderId,
      number: maskNumber(request.number),
      amount: Number.isSafeInteger(request.amount) ? formatRupees(request.amount) : 'invalid',
    };
    const problems = callProblems(call);
    if (problems.length > 0) {
      const detail = `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`;
      throw providerError('not_sent', 'invalid_request', detail, facts, {
        fields: problems.map((p) => p.field),
      });
    }
    const form = new URLSearchParams({
      ...credentials(),
      ...(request.circle !== undefined ? { circlecode: request.circle } : {}),
      operatorcode: request.operator,
      number: request.number,
      amount: formatRupees(request.amount),
      orderid: call.providerOrderId,
      format: settings.format,
      ...(request.value1 !== undefined ? { value1: request.value1 } : {}),
      ...(request.value2 !== undefined ? { value2: request.value2 } : {}),
    });
    const raw = await send('/recharge/api', form, facts);
    const verdict = interpretAnswer(parseAnswerBody(raw.body), 'recharge', call.providerOrderId);
    const http = classifyHttpStatus(raw.statusCode);
    if (http) {
      // A refusal status whose body claims Success or Pending contradicts itself: not proof of anything.
      const contradicts = verdict.kind === 'answer' && verdict.answer.status !== 'failed';
      const failureClass = http.failureClass === 'failed' && !contradicts ? 'failed' : 'ambiguous';
      throw providerError(failureClass, http.reason, `HTTP ${raw.statusCode}`, facts, {
        httpStatus: raw.statusCode,
        body: raw.body,
      });
    }
    if (verdict.kind === 'error') {
      throw providerError(verdict.failureClass, verdict.reason, verdict.detail, facts, { body: raw.body });
    }
    return verdict.answer;
  }

  async function checkStatus(providerOrderId: string): Promise<ProviderAnswer> {
    const facts: CallFacts = { operation: 'status', orderid: providerOrderId };
    if (!ID_PATTERN.test(providerOrderId)) {
      throw providerError(
        'not_sent',
        'invalid_request',
        'invalid request: orderid is not a valid id',
        facts,
        {
          fields: ['orderid'],
        },
      );
    }
    const form = new URLSearchParams({ ...credentials(), orderid: providerOrderId, format: settings.format });
    const raw = await send('/recharge/status', form, facts);
    const http = classifyHttpStatus(raw.statusCode);
    if (http) {
      // A refused status query says nothing about the order itself: never `failed`.
      throw providerError('ambiguous', http.reason, `HTTP ${raw.statusCode}`, facts, {
        httpStatus: raw.statusCode,
        body: raw.body,
      });
    }
    const verdict = interpretAnswer(parseAnswerBody(raw.body), 'status', providerOrderId);
    if (verdict.kind === 'error') {
      throw providerError('ambiguous', verdict.reason, verdict.detail, facts, { body: raw.body });
    }
    return verdict.answer;
  }

  async function getBalance(): Promise<ProviderBalance> {
    const facts: CallFacts = { operation: 'balance' };
    const form = new URLSearchParams({ ...credentials(), format: settings.format });
    const raw = await send('/recharge/balance', form, facts);
    const http = classifyHttpStatus(raw.statusCode);
    if (http) {
      throw providerError(http.failureClass, http.reason, `HTTP ${raw.statusCode}`, facts, {
        httpStatus: raw.statusCode,
        body: raw.body,
      });
    }
    const parsed = parseBalanceBody(raw.body);
    if (parsed.ok) return { balance: parsed.paise, rawBalance: parsed.raw };
    if (parsed.refused) {
      throw providerError('failed', 'balance_refused', `refused: ${excerpt(parsed.message)}`, facts, {
        body: raw.body,
      });
    }
    throw providerError('ambiguous', parsed.reason, parsed.detail, facts, { body: raw.body });
  }

  return {
    name: PROVIDER,
    supports: { status: true, balance: true },
    recharge,
    checkStatus,
    getBalance,
    async close() {
      if (closed) return;
      closed = true;
      await pools.close();
    },
  };
}
