import { formatRupees, maskNumber, type Paise, parseRupees, RAW_CARD_FIELDS } from '@rechargeflow/domain';
import type { RuntimeConfig } from '../config.ts';
import type { ReplyPlan, SimulatorLogger } from '../engine.ts';
import {
  TELGOO5_BEHAVIOURS,
  type Telgoo5Behaviour,
  type Telgoo5Credentials,
  type Telgoo5Script,
  telgoo5MagicBehaviour,
} from './config.ts';
import { createTokenIssuer, REJECTION_MESSAGES, type TokenRejection } from './tokens.ts';

/** One applied top-up, as the stand-in recorded it (money moved). */
export interface Telgoo5Topup {
  readonly seq: number;
  readonly transactionId: string;
  readonly mdn: string;
  readonly enrollmentId: string;
  /** Dollars as received, e.g. `12` or `12.50`. */
  readonly amount: string;
  readonly amountCents: number;
  readonly planId?: string | undefined;
  readonly planCode?: string | undefined;
  readonly topupType: string;
  readonly paymentMethod: string;
  readonly source: string;
  readonly agentId: string;
  readonly behaviour: Telgoo5Behaviour;
  readonly at: string;
}

/** One request to `/telgoo5/*`: field names only, never values (tokens, payment profiles). */
export interface Telgoo5RequestEntry {
  readonly endpoint: 'authenticate' | 'topup';
  readonly method: string;
  readonly at: string;
  /** Top-level body member names, sorted. */
  readonly fields: readonly string[];
  readonly tokenSent: boolean;
  /** The msg_code answered, or the fault (`timeout`, `reset`, ...). */
  readonly answer: string;
}

export interface Telgoo5Stats {
  /** Successful authentications (each issued a token). */
  readonly authentications: number;
  readonly authFailures: number;
  readonly topupRequests: number;
  readonly topupsApplied: number;
  /** Top-ups refused with a RESTAPI1xx/010 code (not applied), by code. */
  readonly refusals: Readonly<Record<string, number>>;
  /** RESTAPI001 answers by cause (`access`: not a POST). */
  readonly tokenRejections: {
    readonly invalid: number;
    readonly used: number;
    readonly expired: number;
    readonly access: number;
  };
  /** Requests carrying raw card fields (refused): Rechargeflow must never send one. */
  readonly cardFieldViolations: number;
  readonly tokensIssued: number;
  /** Issued, unused and unexpired now. */
  readonly tokensOutstanding: number;
  readonly byBehaviour: Readonly<Record<Telgoo5Behaviour, number>>;
  /** Distinct MDNs with at least one applied top-up. */
  readonly mdns: number;
}

export interface Telgoo5EngineOptions {
  readonly credentials: Telgoo5Credentials;
  readonly config: () => RuntimeConfig;
  readonly logger?: SimulatorLogger | undefined;
}

const MAX_TOPUPS = 100_000;
const MAX_REQUEST_LOG = 1_000;
const PAYMENT_METHODS = ['CREDIT_CARD', 'PAYPAL_BRAINTREE', 'OTHER_PAYMENT_OPTION'];
const TOPUP_TYPES = ['ADDON', 'ILD', 'DATA', 'TOPUP'];
const CARD_FIELDS = new Set(RAW_CARD_FIELDS.map((f) => f.toLowerCase()));

const GARBAGE = '#!ERR 0x1F ~~ ??? <<unexpected>> ;; 7f 00 ff\n';
const HTML =
  '<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>' +
  '<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>';

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return '';
}

/** Card field names anywhere in the body, at any depth. */
function cardFields(value: unknown, found = new Set<string>(), depth = 0): Set<string> {
  if (depth > 8) return found;
  if (Array.isArray(value)) for (const item of value) cardFields(item, found, depth + 1);
  else if (isRecord(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (CARD_FIELDS.has(key.toLowerCase())) found.add(key);
      cardFields(inner, found, depth + 1);
    }
  }
  return found;
}

interface Envelope {
  readonly msg: string;
  readonly msgCode: string;
  readonly errors?: readonly string[] | undefined;
  readonly data?: unknown;
  readonly token?: string | undefined;
}

/** The Telgoo5 stand-in: tokens, validation, decisions and answers, with no HTTP in it. */
export function createTelgoo5Engine(options: Telgoo5EngineOptions) {
  const creds = options.credentials;
  const log = options.logger;
  const tokens = createTokenIssuer(creds.vendorId);
  let topups: Telgoo5Topup[] = [];
  const perMdn = new Map<string, number>();
  const scripts = new Map<string, { script: Telgoo5Script; remaining: number }>();
  let requestLog: Telgoo5RequestEntry[] = [];
  let seq = 0;
  const fresh = () => ({
    authentications: 0,
    authFailures: 0,
    topupRequests: 0,
    tokenRejections: { invalid: 0, used: 0, expired: 0, access: 0 },
    cardFieldViolations: 0,
    tokensIssued: 0,
    refusals: {} as Record<string, number>,
    byBehaviour: zeroCounts<Telgoo5Behaviour>(TELGOO5_BEHAVIOURS),
  });
  let counters = fresh();

  function issue(): string {
    counters.tokensIssued += 1;
    return tokens.issue(options.config().telgoo5TokenTtlMs);
  }

  /** Valid JSON, or the document's own (invalid) sample layout when `telgoo5DocumentBodies` is on. */
  function render(e: Envelope): string {
    if (options.config().telgoo5DocumentBodies && e.errors) {
      const lines = [
        `    "errors":${JSON.stringify(e.errors)}`,
        `    "msg": ${JSON.stringify(e.msg)},`,
        `    "msg_code": ${JSON.stringify(e.msgCode)}${e.token ? ',' : ''}`,
        ...(e.token ? [`    "token": ${JSON.stringify(e.token)}`] : []),
      ];
      return `{\n${lines.join('\n')}\n}`;
    }
    return JSON.stringify({
      ...(e.errors ? { errors: e.errors } : {}),
      ...(e.data !== undefined ? { data: e.data } : {}),
      msg: e.msg,
      msg_code: e.msgCode,
      ...(e.token ? { token: e.token } : {}),
    });
  }

  function send(statusCode: number, contentType: string, body: string | Buffer, delayMs?: number): ReplyPlan {
    return {
      delayMs: delayMs ?? options.config().latencyMs,
      action: { kind: 'send', statusCode, contentType, body },
    };
  }

  function answer(e: Envelope, delayMs?: number): ReplyPlan {
    return send(200, 'application/json; charset=utf-8', render(e), delayMs);
  }

  function note(entry: Omit<Telgoo5RequestEntry, 'at'>): void {
    requestLog.push({ ...entry, at: new Date().toISOString() });
    if (requestLog.length > MAX_REQUEST_LOG) requestLog = requestLog.slice(-MAX_REQUEST_LOG);
  }

  function parseBody(raw: string | undefined): Record<string, unknown> | undefined {
    if (raw === undefined || raw.trim() === '') return undefined;
    try {
      const value: unknown = JSON.parse(raw);
      return isRecord(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  function authenticate(method: string, raw: string | undefined): ReplyPlan {
    const body = parseBody(raw);
    const entry = {
      endpoint: 'authenticate' as const,
      method,
      fields: Object.keys(body ?? {}).sort(),
      tokenSent: false,
    };
    const refuse = (msgCode: string, msg: string, errors?: string[]) => {
      counters.authFailures += 1;
      note({ ...entry, answer: msgCode });
      return answer({ msg, msgCode, errors });
    };
    if (method !== 'POST') return refuse('RESTAPI001', REJECTION_MESSAGES.access);
    if (!body) return refuse('RESTAPI110', 'Error occurred', ['Invalid request body']);
    const missing = ['vendor_id', 'username', 'password', 'pin'].filter((k) => str(body, k) === '');
    if (missing.length > 0) {
      return refuse(
        'RESTAPI110',
        'Error occurred',
        missing.map((k) => `Please enter ${k}`),
      );
    }
    if (
      str(body, 'vendor_id') !== creds.vendorId ||
      str(body, 'username') !== creds.username ||
      str(body, 'password') !== creds.password ||
      str(body, 'pin') !== creds.pin
    ) {
      log?.warn({ endpoint: 'authenticate' }, 'telgoo5 simulator refused an authentication');
      return refuse('RESTAPI104', 'Invalid Agent ID or Password', ['Invalid Agent ID or Password']);
    }
    counters.authentications += 1;
    note({ ...entry, answer: 'RESTAPI000' });
    return answer({ data: {}, msg: 'Success', msgCode: 'RESTAPI000', token: issue() });
  }

  /** Field validation of add_topup (RESTAPI110), in the document's words where it has any. */
  function fieldErrors(body: Record<string, unknown>): string[] {
    const errors: string[] = [];
    if (!str(body, 'enrollment_id')) errors.push('Please enter Enrollment Id');
    if (!str(body, 'plan_id') && !str(body, 'plan_code')) errors.push('Please enter Plan Id or Plan Code');
    if (!str(body, 'customer_token') && !str(body, 'payment_token')) {
      errors.push('Please enter Customer Token or Payment Token');
    }
    if (!str(body, 'billing_state')) errors.push('Please enter Billing State');
    if (!str(body, 'billing_city')) errors.push('Please enter Billing City');
    const method = str(body, 'payment_method');
    if (!PAYMENT_METHODS.includes(method)) errors.push('Please enter valid Payment Method');
    if (method === 'PAYPAL_BRAINTREE' && !str(body, 'vendor_id')) errors.push('Please enter Vendor Id');
    if (!TOPUP_TYPES.includes(str(body, 'topup_type'))) errors.push('Please enter valid Topup Type');
    const cents = parseRupees(str(body, 'addon_amount'));
    if (cents === null || cents <= 0) errors.push('Please enter valid Addon Amount');
    if (!/^\d{10}$/.test(str(body, 'mdn'))) errors.push('Please enter valid MDN');
    const ids = body.multi_topup_enrollment_ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && id !== '')) {
      errors.push('Please enter Multi Topup Enrollment Ids');
    }
    if (str(body, 'request_name') !== 'topup') errors.push('Please enter valid Request Name');
    return errors;
  }

  function decide(mdn: string, cents: number): { behaviour: Telgoo5Behaviour; script?: Telgoo5Script } {
    const scripted = scripts.get(mdn);
    if (scripted) {
      scripted.remaining -= 1;
      if (scripted.remaining <= 0) scripts.delete(mdn);
      return { behaviour: scripted.script.behaviour, script: scripted.script };
    }
    const magic = options.config().magicAmounts ? telgoo5MagicBehaviour(cents) : undefined;
    return { behaviour: magic ?? 'success' };
  }

  function topup(method: string, token: string | undefined, raw: string | undefined): ReplyPlan {
    counters.topupRequests += 1;
    const body = parseBody(raw);
    const entry = {
      endpoint: 'topup' as const,
      method,
      fields: Object.keys(body ?? {}).sort(),
      tokenSent: token !== undefined && token !== '',
    };
    const reply = (e: Envelope, delayMs?: number) => {
      note({ ...entry, answer: e.msgCode });
      return answer(e, delayMs);
    };
    const reject = (why: TokenRejection | 'access') => {
      counters.tokenRejections[why] += 1;
      return reply({ msg: REJECTION_MESSAGES[why], msgCode: 'RESTAPI001', token: issue() });
    };
    const refuse = (msgCode: string, msg: string, errors?: readonly string[]) => {
      counters.refusals[msgCode] = (counters.refusals[msgCode] ?? 0) + 1;
      return reply({ msg, msgCode, errors, token: issue() });
    };

    if (method !== 'POST') return reject('access');
    // Counted whatever else is wrong with the request: it carried card data over the wire.
    const card = [...cardFields(body)];
    if (card.length > 0) {
      counters.cardFieldViolations += 1;
      log?.warn({ fields: card }, 'telgoo5 simulator got raw card fields (refused)');
    }
    const spent = tokens.spend(token);
    if (!spent.ok) return reject(spent.why);
    if (!body) return refuse('RESTAPI110', 'Error occurred', ['Invalid request body']);
    if (card.length > 0) {
      return refuse('RESTAPI110', 'Error occurred', [
        `Card data is not accepted (${card.join(', ')}): pay with customer_token or payment_token`,
      ]);
    }
    const action = str(body, 'action');
    if (!action) return refuse('RESTAPI102', 'Action required.', ['Action required.']);
    if (action !== 'add_topup')
      return refuse('RESTAPI106', 'Action does not exist.', ['Action does not exist.']);
    if (!creds.sources.includes(str(body, 'source'))) {
      return refuse('RESTAPI103', 'Source Not Allowed', ['Source Not Allowed']);
    }
    const agentId = str(body, 'agent_id');
    if (!agentId)
      return refuse('RESTAPI104', 'Agent Id should not be blank', ['Agent Id should not be blank']);
    if (!creds.agentIds.includes(agentId))
      return refuse('RESTAPI104', 'Invalid Agent Id', ['Invalid Agent Id']);
    const vendorId = str(body, 'vendor_id');
    if (vendorId && vendorId !== creds.vendorId)
      return refuse('RESTAPI107', 'Invalid company.', ['Invalid company.']);
    const errors = fieldErrors(body);
    if (errors.length > 0) return refuse('RESTAPI110', 'Error occurred', errors);

    const mdn = str(body, 'mdn');
    const cents = parseRupees(str(body, 'addon_amount')) as Paise;
    const { behaviour, script } = decide(mdn, cents);
    counters.byBehaviour[behaviour] += 1;
    if (behaviour === 'failure') {
      return refuse('RESTAPI110', 'Error occurred', ['Payment declined for the saved payment profile']);
    }
    if (behaviour === 'token_rejected') {
      counters.tokenRejections.invalid += 1;
      return reply({ msg: REJECTION_MESSAGES.invalid, msgCode: 'RESTAPI001', token: issue() });
    }

    // Applied before any answer is decided: a lost answer still moved the money.
    seq += 1;
    const record: Telgoo5Topup = {
      seq,
      transactionId: `TG5${String(seq).padStart(8, '0')}`,
      mdn,
      enrollmentId: str(body, 'enrollment_id'),
      amount: formatRupees(cents),
      amountCents: cents,
      planId: str(body, 'plan_id') || undefined,
      planCode: str(body, 'plan_code') || undefined,
      topupType: str(body, 'topup_type'),
      paymentMethod: str(body, 'payment_method'),
      source: str(body, 'source'),
      agentId,
      behaviour,
      at: new Date().toISOString(),
    };
    topups.push(record);
    if (topups.length > MAX_TOPUPS) topups = topups.slice(-MAX_TOPUPS);
    perMdn.set(mdn, (perMdn.get(mdn) ?? 0) + 1);
    log?.info(
      {
        mdn: maskNumber(mdn),
        enrollmentId: record.enrollmentId,
        amount: record.amount,
        plan: record.planCode ?? record.planId,
        behaviour,
      },
      'telgoo5 simulator top-up applied',
    );

    const config = options.config();
    const fault = (name: string, plan: ReplyPlan) => {
      note({ ...entry, answer: name });
      return plan;
    };
    const success = (delayMs?: number) =>
      reply({ data: {}, msg: 'Success', msgCode: 'RESTAPI000', token: issue() }, delayMs);
    switch (behaviour) {
      case 'slow':
        return success(config.latencyMs + (script?.delayMs ?? config.slowMs));
      case 'timeout':
        return fault('timeout', {
          delayMs: config.latencyMs,
          action: { kind: 'hold', holdMs: config.holdMs },
        });
      case 'reset':
        return fault('reset', { delayMs: config.latencyMs, action: { kind: 'reset' } });
      case 'garbage':
        return fault('garbage', send(200, 'text/plain; charset=utf-8', GARBAGE));
      case 'html':
        return fault('html', send(200, 'text/html; charset=utf-8', HTML));
      case 'empty':
        return fault('empty', send(200, 'application/json; charset=utf-8', ''));
      case 'server_error':
        return fault(
          'server_error',
          send(
            500,
            'text/html; charset=utf-8',
            '<html><body><h1>500 Internal Server Error</h1></body></html>',
          ),
        );
      case 'oversize': {
        // A real answer first, then padding: a client that parsed a truncated prefix would be fooled.
        const head = render({ data: {}, msg: 'Success', msgCode: 'RESTAPI000', token: issue() });
        const padded = Buffer.alloc(Math.max(config.oversizeBytes, head.length + 1), ' ');
        padded.write(head, 0, 'utf8');
        return fault('oversize', send(200, 'application/json; charset=utf-8', padded));
      }
      case 'trickle':
        // A real success, one byte at a time (Content-Length set): a client must give up first.
        return fault('trickle', {
          delayMs: config.latencyMs,
          action: {
            kind: 'trickle',
            statusCode: 200,
            contentType: 'application/json; charset=utf-8',
            body: render({ data: {}, msg: 'Success', msgCode: 'RESTAPI000', token: issue() }),
            byteMs: config.trickleByteMs,
          },
        });
      case 'unknown_code':
        return reply({ data: {}, msg: 'Request received', msgCode: 'RESTAPI999', token: issue() });
      default:
        return success();
    }
  }

  return {
    authenticate,
    topup,
    stats(): Telgoo5Stats {
      return {
        authentications: counters.authentications,
        authFailures: counters.authFailures,
        topupRequests: counters.topupRequests,
        topupsApplied: seq,
        refusals: { ...counters.refusals },
        tokenRejections: { ...counters.tokenRejections },
        cardFieldViolations: counters.cardFieldViolations,
        tokensIssued: counters.tokensIssued,
        tokensOutstanding: tokens.outstanding(),
        byBehaviour: { ...counters.byBehaviour },
        mdns: perMdn.size,
      };
    },
    /** Applied top-ups, oldest first; for one MDN when given. */
    topups(mdn?: string): readonly Telgoo5Topup[] {
      return mdn === undefined ? [...topups] : topups.filter((t) => t.mdn === mdn);
    },
    /** Applied top-ups for an MDN, counted even beyond the kept records. */
    count(mdn: string): number {
      return perMdn.get(mdn) ?? 0;
    },
    requests(): readonly Telgoo5RequestEntry[] {
      return [...requestLog];
    },
    script(script: Telgoo5Script): void {
      scripts.set(script.mdn, { script, remaining: script.times ?? 1 });
    },
    /** Every outstanding token answers `as` from now on; returns how many were outstanding. */
    invalidateTokens(as: TokenRejection = 'invalid'): number {
      const count = tokens.revokeAll(as);
      log?.info({ as, count }, 'telgoo5 simulator tokens invalidated');
      return count;
    },
    reset(): void {
      tokens.reset();
      topups = [];
      perMdn.clear();
      scripts.clear();
      requestLog = [];
      seq = 0;
      counters = fresh();
    },
  };
}

export type Telgoo5Engine = ReturnType<typeof createTelgoo5Engine>;
