import {
  type FailureClass,
  formatRupees,
  ID_PATTERN,
  maskNumber,
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  RAW_CARD_FIELDS,
  type RechargeCall,
  type RechargeProvider,
  TELGOO5_TOPUP_TYPES,
} from '@rechargeflow/domain';
import { classifyTransportError } from '../a1topup/classify.ts';
import type { RawAnswer } from '../a1topup/http.ts';
import {
  transportDetail as describeTransport,
  excerptOf,
  failureMessage,
  providerPools,
  safeCopy,
} from '../failure-text.ts';
import { classifyTopup, refusalMessage } from './classify.ts';
import { exchangeJson } from './http.ts';
import { resolveTelgoo5Options, type Telgoo5Options, type Telgoo5Settings } from './options.ts';
import { parseEnvelope } from './parse.ts';

const PROVIDER = 'telgoo5';

/** Safe facts about a call, for error messages and context: no credential, token or full MDN. */
interface CallFacts {
  readonly operation: 'recharge';
  readonly orderid?: string;
  readonly mdn?: string;
  readonly amount?: string;
}

interface ErrorExtra {
  readonly httpStatus?: number;
  readonly body?: string;
  readonly cause?: unknown;
  readonly elapsedMs?: number;
  readonly fields?: readonly string[];
  readonly msgCode?: string;
  readonly tries?: number;
  readonly phase?: 'authenticate' | 'topup' | 'token_store';
}

const CONSEQUENCE: Record<FailureClass, string> = {
  not_sent: 'top-up not sent, safe to retry',
  failed: 'refused, not carried out',
  ambiguous: 'outcome unknown and Telgoo5 has no status API: a person must check it',
};

const MDN = /^\d{10}$/;
const ID = /^[A-Za-z0-9_-]{1,32}$/;
const PAYMENT_TOKEN = /^[A-Za-z0-9_-]{4,64}$/;
const PRINTABLE = /^[\x20-\x7e]{1,100}$/;

/** Problems with a call, checked before anything is sent; messages never echo the values. */
function callProblems(call: RechargeCall): { field: string; message: string }[] {
  const { request } = call;
  const t = request.telgoo5;
  const problems: { field: string; message: string }[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  if (!ID_PATTERN.test(call.providerOrderId))
    add('orderid', 'must be 1-64 letters, digits, dot, dash or underscore');
  if (!MDN.test(request.number)) add('number', 'must be a 10-digit MDN');
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0)
    add('amount', 'must be a positive amount');
  if (!t) {
    add('telgoo5', 'is required: enrollment, plan, top-up type, saved payment profile and billing');
    return problems;
  }
  // The typed order cannot hold card data, but a loosely built object could: never forward it.
  for (const key of Object.keys(t)) {
    if (RAW_CARD_FIELDS.includes(key)) add(`telgoo5.${key}`, 'raw card data is never sent');
  }
  if (!ID.test(t.enrollmentId ?? '')) add('telgoo5.enrollmentId', 'must be 1-32 letters or digits');
  if (!t.planId && !t.planCode) add('telgoo5.planCode', 'planCode or planId is required');
  for (const [field, value] of [
    ['planId', t.planId],
    ['planCode', t.planCode],
  ] as const) {
    if (value !== undefined && !ID.test(value)) add(`telgoo5.${field}`, 'must be 1-32 letters or digits');
  }
  if (!(TELGOO5_TOPUP_TYPES as readonly string[]).includes(t.topupType)) {
    add('telgoo5.topupType', `must be one of ${TELGOO5_TOPUP_TYPES.join(', ')}`);
  }
  if (!t.paymentToken && !t.customerToken)
    add('telgoo5.paymentToken', 'paymentToken or customerToken is required');
  for (const [field, value] of [
    ['paymentToken', t.paymentToken],
    ['customerToken', t.customerToken],
  ] as const) {
    if (value !== undefined && !PAYMENT_TOKEN.test(value))
      add(`telgoo5.${field}`, 'must be 4-64 letters, digits, _ or -');
  }
  if (!/^[A-Z]{2}$/.test(t.billingState ?? ''))
    add('telgoo5.billingState', 'must be a two-letter state code');
  for (const [field, value, needed] of [
    ['billingCity', t.billingCity, true],
    ['billingZip', t.billingZip, false],
    ['billingAddress1', t.billingAddress1, false],
    ['billingAddress2', t.billingAddress2, false],
  ] as const) {
    if ((needed || value !== undefined) && !PRINTABLE.test(value ?? '')) {
      add(`telgoo5.${field}`, 'must be 1-100 printable characters');
    }
  }
  return problems;
}

export function createTelgoo5Provider(options: Telgoo5Options): RechargeProvider {
  const settings: Telgoo5Settings = resolveTelgoo5Options(options);
  const lease = options.tokens;
  const pools = providerPools(settings.origin, settings, settings.rechargeKeepAliveMs);
  let closed = false;

  /**
   * Removes every secret this call knows (password, pin, session tokens, saved-payment tokens), any
   * JWT or `"token": "..."` member, and masks long digit runs (MDNs, card-like numbers).
   */
  function scrub(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const secret of [settings.password, settings.pin, ...secrets]) {
      if (secret.length >= 3) out = out.split(secret).join('***');
    }
    return out
      .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '***')
      .replace(/("(?:token|customer_token|payment_token|password|pin)"\s*:\s*")(?:[^"\\]|\\.)*"/gi, '$1***"')
      .replace(/\d{6,}/g, (digits) => maskNumber(digits));
  }

  function excerpt(body: string, secrets: readonly string[]): string {
    return excerptOf(body, (text) => scrub(text, secrets), 160);
  }

  function safeCause(error: unknown, secrets: readonly string[]): Error {
    return safeCopy(error, (text) => scrub(text, secrets), 160);
  }

  const transportDetail = (reason: string) => describeTransport(reason, settings);

  function providerError(
    failureClass: FailureClass,
    reason: string,
    detail: string,
    facts: CallFacts,
    secrets: readonly string[],
    extra: ErrorExtra = {},
  ): ProviderError {
    const message = failureMessage(
      'telgoo5',
      facts.operation,
      [
        facts.orderid ? `order ${facts.orderid}` : undefined,
        facts.mdn ? `mdn ${facts.mdn}` : undefined,
        facts.amount ? `amount ${facts.amount}` : undefined,
      ],
      scrub(detail, secrets),
      CONSEQUENCE[failureClass],
    );
    return new ProviderError(PROVIDER, failureClass, message, {
      context: {
        ...facts,
        reason,
        ...(extra.phase !== undefined ? { phase: extra.phase } : {}),
        ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
        ...(extra.msgCode !== undefined ? { msgCode: extra.msgCode } : {}),
        ...(extra.body !== undefined ? { body: excerpt(extra.body, secrets) } : {}),
        ...(extra.elapsedMs !== undefined ? { elapsedMs: extra.elapsedMs } : {}),
        ...(extra.tries !== undefined ? { tries: extra.tries } : {}),
        ...(extra.fields ? { fields: [...extra.fields] } : {}),
      },
      cause: extra.cause === undefined ? undefined : safeCause(extra.cause, secrets),
    });
  }

  /** One POST; transport failures are thrown classified (not_sent only when provably never sent). */
  async function send(
    path: '/authenticate' | '/topup',
    body: unknown,
    headers: Record<string, string>,
    facts: CallFacts,
    secrets: readonly string[],
  ): Promise<RawAnswer> {
    const phase = path === '/topup' ? 'topup' : 'authenticate';
    if (closed)
      throw providerError('not_sent', 'closed', transportDetail('closed'), facts, secrets, { phase });
    const started = performance.now();
    const signal = AbortSignal.timeout(settings.timeoutMs);
    try {
      const topup = path === '/topup';
      return await exchangeJson(topup ? pools.recharge : pools.read, {
        path: `${settings.pathPrefix}${path}`,
        body,
        headers,
        signal,
        maxResponseBytes: settings.maxResponseBytes,
        freshConnection: topup && pools.freshRecharge,
      });
    } catch (error) {
      const { failureClass, reason } = classifyTransportError(error, signal.aborted);
      throw providerError(failureClass, reason, transportDetail(reason), facts, secrets, {
        phase,
        cause: error,
        elapsedMs: Math.round(performance.now() - started),
      });
    }
  }

  /** Lease trouble (Redis) before a top-up is sent: provably not sent. */
  function storeError(error: unknown, facts: CallFacts, secrets: readonly string[]): ProviderError {
    if (error instanceof ProviderError) return error;
    return providerError('not_sent', 'token_store', 'the token store is unavailable', facts, secrets, {
      phase: 'token_store',
      cause: error,
    });
  }

  /** Stores a next token; a store failure must never turn a known outcome into an error. */
  async function keep(token: string | undefined, spent: string | undefined): Promise<void> {
    if (token === undefined || token === spent) return;
    try {
      await lease.put(token);
    } catch {
      // Losing one token only costs a later authentication.
    }
  }

  /**
   * POST /authenticate; the token goes into the lease, never back to the caller. Anything short of a
   * refusal is `not_sent` for the top-up (it has not left); a refusal is `failed`.
   */
  async function authenticate(facts: CallFacts, secrets: readonly string[]): Promise<void> {
    const credentials = {
      vendor_id: settings.vendorId,
      username: settings.username,
      password: settings.password,
      pin: settings.pin,
    };
    let raw: RawAnswer;
    try {
      raw = await send('/authenticate', credentials, {}, facts, secrets);
    } catch (error) {
      const e = error as ProviderError;
      throw providerError(
        'not_sent',
        `auth_${String(e.context.reason)}`,
        `authentication failed: ${transportDetail(String(e.context.reason))}`,
        facts,
        secrets,
        { phase: 'authenticate', cause: e.cause },
      );
    }
    const parsed = parseEnvelope(raw.body);
    const token = parsed.ok ? parsed.envelope.token : undefined;
    const all = token ? [...secrets, token] : secrets;
    const readable = raw.statusCode >= 200 && raw.statusCode < 500 && parsed.ok;
    if (!readable) {
      const detail = parsed.ok ? `HTTP ${raw.statusCode}` : parsed.detail;
      throw providerError('not_sent', 'auth_unreadable', `authentication failed: ${detail}`, facts, all, {
        phase: 'authenticate',
        httpStatus: raw.statusCode,
        body: raw.body,
      });
    }
    const { msgCode, msg, errors } = parsed.envelope;
    if (msgCode !== 'RESTAPI000') {
      throw providerError(
        'failed',
        'auth_refused',
        `authentication refused: ${msgCode} ${refusalMessage(msg, errors)}`,
        facts,
        all,
        { phase: 'authenticate', httpStatus: raw.statusCode, msgCode, body: raw.body },
      );
    }
    if (!token || raw.statusCode >= 300) {
      throw providerError(
        'not_sent',
        'auth_no_token',
        token ? `authentication answered HTTP ${raw.statusCode}` : 'authentication answered without a token',
        facts,
        all,
        {
          phase: 'authenticate',
          httpStatus: raw.statusCode,
        },
      );
    }
    try {
      await lease.put(token);
    } catch (error) {
      throw storeError(error, facts, all);
    }
  }

  /**
   * A token for one send: from the lease; when none is usable, one process authenticates under the
   * lease's lock while the others wait for the token it puts back. The lock is only an economy:
   * after `authWaitMs` without a token a call authenticates on its own.
   */
  async function acquireToken(facts: CallFacts, secrets: readonly string[]): Promise<string> {
    const deadline = Date.now() + settings.authWaitMs;
    const underLock = async (): Promise<string | null> => {
      const ready = await lease.take();
      if (ready) return ready;
      await authenticate(facts, secrets);
      return lease.take();
    };
    try {
      for (;;) {
        const token = await lease.take();
        if (token) return token;
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        const got = await lease.withAuthLock(underLock, remaining);
        if (got) return got;
      }
      await authenticate(facts, secrets);
      const token = await lease.take();
      if (token) return token;
    } catch (error) {
      throw storeError(error, facts, secrets);
    }
    throw providerError('not_sent', 'no_token', 'no usable token could be obtained', facts, secrets, {
      phase: 'token_store',
    });
  }

  /** The add_topup body: the saved payment profile only, never a card field. */
  function topupBody(call: RechargeCall): Record<string, unknown> {
    const { request } = call;
    const t = request.telgoo5!;
    const body: Record<string, unknown> = {
      action: 'add_topup',
      enrollment_id: t.enrollmentId,
      ...(t.planId !== undefined ? { plan_id: t.planId } : {}),
      ...(t.planCode !== undefined ? { plan_code: t.planCode } : {}),
      ...(t.customerToken !== undefined ? { customer_token: t.customerToken } : {}),
      ...(t.paymentToken !== undefined ? { payment_token: t.paymentToken } : {}),
      billing_state: t.billingState,
      billing_city: t.billingCity,
      ...(t.billingZip !== undefined ? { billing_zip: t.billingZip } : {}),
      ...(t.billingAddress1 !== undefined ? { billing_address1: t.billingAddress1 } : {}),
      ...(t.billingAddress2 !== undefined ? { billing_address2: t.billingAddress2 } : {}),
      payment_method: settings.paymentMethod,
      agent_id: settings.agentId,
      source: settings.source,
      topup_type: t.topupType,
      addon_amount: formatRupees(request.amount),
      mdn: request.number,
      multi_topup_enrollment_ids: [t.enrollmentId],
      request_name: 'topup',
      vendor_id: settings.vendorId,
    };
    // Defence in depth: the body is built from named fields, so this can only fire after a bad edit.
    const card = Object.keys(body).find((k) => RAW_CARD_FIELDS.includes(k));
    if (card !== undefined) throw new Error(`card field ${card} in a Telgoo5 body`);
    return body;
  }

  async function recharge(call: RechargeCall): Promise<ProviderAnswer> {
    const { request } = call;
    const facts: CallFacts = {
      operation: 'recharge',
      orderid: call.providerOrderId,
      mdn: maskNumber(request.number),
      amount: Number.isSafeInteger(request.amount) ? formatRupees(request.amount) : 'invalid',
    };
    const base = [request.telgoo5?.paymentToken, request.telgoo5?.customerToken].filter(
      (s): s is string => typeof s === 'string' && s !== '',
    );
    // Before taking a token: a token taken and then not sent is wasted.
    if (closed) throw providerError('not_sent', 'closed', transportDetail('closed'), facts, base);
    const problems = callProblems(call);
    if (problems.length > 0) {
      const detail = `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`;
      throw providerError('not_sent', 'invalid_request', detail, facts, base, {
        fields: problems.map((p) => p.field),
      });
    }
    const body = topupBody(call);
    const rejections: string[] = [];
    const tries = settings.maxTokenRetries + 1;
    for (let attempt = 1; attempt <= tries; attempt += 1) {
      const token = await acquireToken(facts, base);
      const secrets = [...base, token];
      // A token that was sent is spent whatever happens next: it never goes back into the lease.
      const raw = await send('/topup', body, { [settings.tokenHeader]: token }, facts, secrets);
      const parsed = parseEnvelope(raw.body);
      const next = parsed.ok ? parsed.envelope.token : parsed.token;
      await keep(next, token);
      const all = next ? [...secrets, next] : secrets;
      const verdict = classifyTopup(raw.statusCode, parsed);
      switch (verdict.kind) {
        case 'success':
          return {
            status: 'success',
            rawStatus: verdict.msgCode,
            message: verdict.message === undefined ? undefined : scrub(verdict.message, all),
          };
        case 'refused':
          return { status: 'failed', rawStatus: verdict.msgCode, message: scrub(verdict.message, all) };
        case 'token_rejected':
          // RESTAPI001 proves the top-up was not executed: safe to send again with another token.
          rejections.push(scrub(verdict.message ?? 'token rejected', all));
          continue;
        case 'ambiguous':
          throw providerError('ambiguous', verdict.reason, verdict.detail, facts, all, {
            phase: 'topup',
            httpStatus: raw.statusCode,
            body: raw.body,
          });
      }
    }
    throw providerError(
      'not_sent',
      'token_rejected',
      `every token was refused (RESTAPI001: ${[...new Set(rejections)].join(', ')}) in ${tries} tries`,
      facts,
      base,
      { phase: 'topup', msgCode: 'RESTAPI001', tries },
    );
  }

  return {
    name: PROVIDER,
    supports: { status: false, balance: false },
    recharge,
    // The documented API has neither: an ambiguous top-up goes to a person (supports.status false).
    async checkStatus(): Promise<ProviderAnswer> {
      throw new ProviderError(PROVIDER, 'failed', 'telgoo5 has no status API', {
        context: { operation: 'status', reason: 'unsupported' },
      });
    },
    async getBalance(): Promise<ProviderBalance> {
      throw new ProviderError(PROVIDER, 'failed', 'telgoo5 has no balance API', {
        context: { operation: 'balance', reason: 'unsupported' },
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await pools.close();
    },
  };
}
