import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { importBatch } from '@rechargeflow/batches';
import { configuredSecrets } from '@rechargeflow/config';
import { extraFieldRules, findCardNumber, findOperator, isCardNumber } from '@rechargeflow/domain';
import { CALLBACK_OUTCOMES, createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger, type ListenerLimits } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix } from '@rechargeflow/testkit';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

/**
 * Issue 13: a short fuzz run against a real listener and the real Redis. Four generators write
 * requests byte for byte on raw sockets (so nothing normalises them on the way): JSON orders
 * mutated, CSV uploads, URLs, and headers. For every request: never a 5xx, a 4xx always in the
 * documented shape `{error, message, issues?}` (JSON), a card number never accepted nor echoed,
 * no secret in the answer that the request did not carry, and the API still answering /healthz.
 * Every other discard of a refused or abandoned upload fails on purpose (as a process that dies
 * would leave it). After the run: past the upload lease and the upload sweep, no upload chunk
 * without its batch, no lease left, and (the stored batches imported) nothing counted against a
 * client; the callback token, the API keys, the configured password and every card number sent
 * are in no log line, no Redis value under the test's prefix (any encoding) and no
 * `GET /v1/callbacks` answer; no error-level log line; /healthz and /readyz still answer.
 *
 * Environment:
 *   FC_SEED=<n> [FC_PATH=<path> FC_ONLY=<generator>]  replay (all three printed when a run fails)
 *   FC_ONLY=json,csv,urls,headers   run these generators only (default all)
 *   FC_RUNS=<n>                     most runs per generator (default 1000)
 *   FC_TIME_LIMIT_MS=<ms>           time per generator (default 4000): the file stays ≤ ~30 s
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-fuzz-${randomUUID().slice(0, 8)}`;
const LEDGER_PREFIX = `${prefix}:ledger`;
const TOKEN = `cbtok-${randomUUID().replace(/-/g, '')}`;
const SHOP_KEY = `shop-${randomUUID()}`;
const OPS_KEY = `ops-${randomUUID()}`;
/** A provider password the process is configured with (only the logger knows it here). */
const PASSWORD = `pw-${randomUUID().replace(/-/g, '').slice(0, 20)}`;
const SECRETS: readonly (readonly [string, string])[] = [
  ['callback token', TOKEN],
  ['client API key', SHOP_KEY],
  ['operator API key', OPS_KEY],
  ['A1TOPUP_PASSWORD', PASSWORD],
];
/** Short, so the run can wait it out: an upload nobody finished must be gone after it. */
const UPLOAD_LEASE_MS = 1_500;
const BODY_LIMIT_BYTES = 16_384;
/** Over one upload chunk (1 MiB), so an upload abandoned past it has stored something. */
const BATCH_MAX_BYTES = 2 * 1024 * 1024;
const LIMITS: ListenerLimits = {
  requestTimeoutMs: 2_000,
  headersTimeoutMs: 1_000,
  keepAliveTimeoutMs: 500,
  maxConnections: 200,
};

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, not ${raw}`);
  return value;
}

const GENERATORS = ['json', 'csv', 'urls', 'headers'] as const;
type Generator = (typeof GENERATORS)[number];
const seed = envNumber('FC_SEED', Math.floor(Math.random() * 2 ** 31));
const path = process.env.FC_PATH || undefined;
const numRuns = envNumber('FC_RUNS', 1_000);
const timeLimitMs = envNumber('FC_TIME_LIMIT_MS', 4_000);
const only = new Set(
  (process.env.FC_ONLY ?? GENERATORS.join(','))
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== ''),
);
for (const g of only) if (!(GENERATORS as readonly string[]).includes(g)) throw new Error(`FC_ONLY: ${g}?`);

let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;
/** Uploads the API could not remove at once (every other discard fails, as if the process died). */
let discardsFailed = 0;
let app: FastifyInstance;
let logger: ReturnType<typeof createLogger>;
let port = 0;
const logLines: string[] = [];
const startedAt = performance.now();

beforeAll(async () => {
  console.log(`fuzz: seed ${seed} (replay with FC_SEED=${seed})`);
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'fuzz-test');
  ledger = createRedisLedgerStore({ redis, prefix: LEDGER_PREFIX });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  logger = createLogger({
    name: 'fuzz-test',
    level: 'debug',
    secrets: configuredSecrets({
      CALLBACK_TOKEN: TOKEN,
      API_KEYS: `shop:${SHOP_KEY},ops:${OPS_KEY}:operator`,
      A1TOPUP_PASSWORD: PASSWORD,
    }),
    destination: { write: (line: string) => logLines.push(line) },
  });
  // The API's ledger fails every other discard of a refused or abandoned upload, as a process that
  // dies before removing it would: those bytes are left for the lease and the sweep.
  let discards = 0;
  const leakyLedger = new Proxy(ledger, {
    get(target, property, receiver) {
      if (property === 'discardUpload') {
        return async (clientId: string, batchId: string) => {
          if (discards++ % 2 === 1) {
            discardsFailed++;
            throw new Error('discard failed on purpose (fuzz): the lease removes it');
          }
          return target.discardUpload(clientId, batchId);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  app = await buildApi({
    ledger: leakyLedger,
    producer,
    logger,
    keys: [
      { clientId: 'shop', secret: SHOP_KEY, role: 'client' },
      { clientId: 'ops', secret: OPS_KEY, role: 'operator' },
    ],
    rateLimitPerMinute: 1_000_000,
    callbackRateLimitPerMinute: 1_000_000,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    listenerLimits: LIMITS,
    callbackTokens: [TOKEN],
    readiness: async () => {
      await redis.ping();
      await queueRedis.ping();
    },
    batchLimits: {
      maxBytes: BATCH_MAX_BYTES,
      maxRows: 5_000,
      maxRowBytes: 1_024,
      // Never reached here: every accepted file stays `stored` (no worker), and later uploads must
      // still reach the intake.
      maxImportingPerClient: 1_000,
      maxPendingBytesPerClient: 512 * 1024 * 1024,
      uploadLeaseMs: UPLOAD_LEASE_MS,
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.race([app?.close(), sleep(5_000)]);
  await producer?.close();
  if (redis) {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
  await queueRedis?.quit();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Requests on the wire

/** One request exactly as written on the socket. */
interface Probe {
  readonly generator: Generator;
  /** `METHOD target HTTP/1.1`, or anything else the generator wants on the first line. */
  readonly line: string;
  /** Header lines in order; nothing is added (a generator adds Host, Content-Length … itself). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  /** Write the body's characters as single bytes (invalid UTF-8, NULs) instead of UTF-8. */
  readonly bytes?: boolean;
  /**
   * After writing: `wait` for the answer; `half-close` (end our side after a moment, as a client
   * that gives up sending a body it announced longer); `abort` (destroy mid-upload, no answer).
   */
  readonly ending: 'wait' | 'half-close' | 'abort';
  /** Card numbers (digits) somewhere in the request. */
  readonly cards: readonly string[];
}

interface Answer {
  /** 0: no answer before the connection closed (or the client's wait ran out). */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timedOut: boolean;
  /** From connect to the answer (or the close). */
  readonly ms: number;
}

const method = (probe: Probe) => probe.line.split(' ', 1)[0] ?? '';

/** The first final (non-1xx) answer in `raw`, once it is complete; `undefined` while incomplete. */
function parseAnswer(
  raw: Buffer,
  requestMethod: string,
  closed: boolean,
): Omit<Answer, 'timedOut' | 'ms'> | undefined {
  let offset = 0;
  for (;;) {
    const headEnd = raw.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) return closed ? { status: 0, headers: {}, body: raw.toString('latin1') } : undefined;
    const [statusLine = '', ...lines] = raw.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    if (status >= 100 && status < 200) {
      offset = headEnd + 4;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const rest = raw.subarray(headEnd + 4);
    if (requestMethod === 'HEAD' || status === 204 || status === 304) return { status, headers, body: '' };
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (rest.length < length) return closed ? { status, headers, body: rest.toString('utf8') } : undefined;
      return { status, headers, body: rest.subarray(0, length).toString('utf8') };
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      let at = 0;
      for (;;) {
        const sizeEnd = rest.indexOf('\r\n', at);
        if (sizeEnd < 0) break;
        const size = Number.parseInt(rest.subarray(at, sizeEnd).toString('latin1'), 16);
        if (size === 0) return { status, headers, body: Buffer.concat(chunks).toString('utf8') };
        if (rest.length < sizeEnd + 2 + size + 2) break;
        chunks.push(rest.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        at = sizeEnd + 2 + size + 2;
      }
      return closed ? { status, headers, body: Buffer.concat(chunks).toString('utf8') } : undefined;
    }
    return closed ? { status, headers, body: rest.toString('utf8') } : undefined;
  }
}

/** Longest the client waits for an answer: past the server's request timeout. */
const ANSWER_WAIT_MS = LIMITS.requestTimeoutMs + 2_500;

function send(probe: Probe): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const t0 = performance.now();
    const received: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean, timedOut = false) => {
      if (settled) return;
      const parsed = parseAnswer(Buffer.concat(received), method(probe), closed);
      if (!parsed) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parsed, timedOut, ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(() => finish(true, true), ANSWER_WAIT_MS);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const head = `${probe.line}\r\n${probe.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
      socket.write(
        Buffer.concat([
          Buffer.from(head, 'latin1'),
          Buffer.from(probe.body, probe.bytes ? 'latin1' : 'utf8'),
        ]),
      );
      if (probe.ending === 'half-close') setTimeout(() => socket.end(), 50);
      if (probe.ending === 'abort') {
        // A big upload is left a moment longer, so its first chunk is stored before it goes.
        setTimeout(
          () => {
            socket.destroy();
            finish(true);
          },
          probe.body.length > 1_000_000 ? 250 : 30,
        );
      }
    });
  });
}

/** Host, Connection: close, and a Content-Length that matches, unless the generator said otherwise. */
function ordinaryHeaders(
  body: string,
  extra: readonly (readonly [string, string])[],
  bytes = false,
): (readonly [string, string])[] {
  return [
    ['Host', `127.0.0.1:${port}`],
    ['Connection', 'close'],
    ...extra,
    ['Content-Length', String(Buffer.byteLength(body, bytes ? 'latin1' : 'utf8'))],
  ];
}

// ---------------------------------------------------------------------------------------------
// What must hold for every answer

/** Whatever way a value may be written: percent-encoded (once or twice), `\u`-escaped, any case. */
function decoded(text: string): string {
  let out = text;
  for (let i = 0; i < 3; i++) {
    out = out
      .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
      .replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  return out.toLowerCase();
}

/** Every secret found in `text`, in any encoding. */
function secretsIn(text: string): string[] {
  const plain = decoded(text);
  return SECRETS.filter(([, value]) => plain.includes(value.toLowerCase())).map(([name]) => name);
}

/** Text with separators between digits dropped (a card written `4111 1111-1111 …`). */
const digitsJoined = (text: string) => decoded(text).replace(/[\s\u00a0\u2010-\u2015-]+/g, '');

function cardsIn(text: string, cards: Iterable<string>): string[] {
  const joined = digitsJoined(text);
  return [...cards].filter((card) => joined.includes(card));
}

/** The documented error shape, or what is wrong with the answer. */
function errorShapeProblem(answer: Answer): string | undefined {
  if (!/^application\/json/i.test(answer.headers['content-type'] ?? '')) {
    return `a ${answer.status} that is not JSON (content-type ${answer.headers['content-type'] ?? 'none'})`;
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return `a ${answer.status} whose body is not JSON`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the error is not an object';
  const record = body as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !['error', 'message', 'issues'].includes(k));
  if (extra.length > 0) return `the error has fields outside the shape: ${extra.join(', ')}`;
  if (typeof record.error !== 'string' || !/^[a-z_]+$/.test(record.error)) return 'error is not a code';
  if (typeof record.message !== 'string' || record.message === '') return 'message is not text';
  if (record.issues !== undefined) {
    if (!Array.isArray(record.issues)) return 'issues is not a list';
    for (const issue of record.issues as unknown[]) {
      const keys = Object.keys((issue ?? {}) as object).sort();
      if (keys.join() !== 'field,message,rule') return `an issue is not {field, rule, message}: ${keys}`;
    }
  }
  return undefined;
}

/** What is wrong with this answer to this request, if anything. */
function problemWith(probe: Probe, answer: Answer): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (probe.ending === 'abort') return undefined;
  if (answer.status === 0) {
    return answer.timedOut
      ? `no answer within ${ANSWER_WAIT_MS} ms`
      : `the connection closed without an answer after ${answer.ms} ms${answer.body ? ` (received ${JSON.stringify(answer.body.slice(0, 200))})` : ''}`;
  }
  if (answer.status >= 400 && method(probe) !== 'HEAD') {
    const shape = errorShapeProblem(answer);
    if (shape) return `${shape}: ${answer.body.slice(0, 300)}`;
  }
  // Answers repeat what the client sent at most (an unknown order id in a 404); never a secret the
  // request did not carry.
  const sent = `${probe.line}\n${probe.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n${probe.body}`;
  const carried = new Set(secretsIn(sent));
  const shown = secretsIn(`${answer.body}\n${JSON.stringify(answer.headers)}`).filter((s) => !carried.has(s));
  if (shown.length > 0) return `the answer shows the ${shown.join(', ')}`;
  if (probe.generator === 'json' && probe.cards.length > 0) {
    if (answer.status >= 200 && answer.status < 300) return `a card number was accepted (${answer.status})`;
    if (cardsIn(answer.body, probe.cards).length > 0) return 'the answer repeats a card number';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the generators

const NETWORK_SHAPES: readonly (readonly [string, number])[] = [
  ['4', 16],
  ['4', 13],
  ['4', 19],
  ['51', 16],
  ['55', 16],
  ['2221', 16],
  ['2720', 16],
  ['34', 15],
  ['37', 15],
  ['6011', 16],
  ['65', 16],
  ['62', 19],
  ['3530', 16],
  ['300', 14],
  ['36', 14],
  ['5018', 13],
  ['2200', 16],
  ['508', 16],
  ['81', 16],
];

function luhnCheckDigit(body: string): string {
  let sum = 0;
  let double = true;
  for (let i = body.length - 1; i >= 0; i--) {
    let d = body.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return String((10 - (sum % 10)) % 10);
}

/** A card number of a payment network, Luhn-valid: what the API must refuse by shape. */
const cardArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('4111111111111111', '5555555555554444', '378282246310005', '6011111111111117'),
  fc
    .tuple(
      fc.constantFrom(...NETWORK_SHAPES),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
    )
    .map(([[network, length], digits]) => {
      const body = network + digits.join('').slice(0, length - network.length - 1);
      return body + luhnCheckDigit(body);
    }),
);

const CARD_FORMS = ['plain', 'spaces', 'dashes', 'pm', 'sentence', 'number'] as const;

/** A card as it might be written, as text (`number`: a JSON number, unquoted). */
function writeCard(card: string, form: (typeof CARD_FORMS)[number]): string {
  const grouped = (sep: string) => card.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
  switch (form) {
    case 'plain':
    case 'number':
      return card;
    case 'spaces':
      return grouped(' ');
    case 'dashes':
      return grouped('-');
    case 'pm':
      return `pm_${card}`;
    case 'sentence':
      return `pay with ${grouped(' ')} exp 12/30`;
  }
}

const ACCOUNT_CATEGORIES = new Set([
  'electricity',
  'gas',
  'insurance',
  'fastag',
  'money_transfer',
  'data_card',
  'other',
]);

/**
 * Operators whose `number`, `value1` or `value2` is a biller's account number: those fields are
 * not searched for card numbers (documented, docs/security.md), so a card there is accepted by
 * design. The generators never name one, so every card they send must be refused.
 */
function namesAccountOperator(text: string): boolean {
  const operator = findOperator(text);
  if (!operator) return false;
  const extra = extraFieldRules(operator);
  return (
    ACCOUNT_CATEGORIES.has(operator.category) ||
    extra.value1?.accountNumber === true ||
    extra.value2?.accountNumber === true
  );
}

const SAFE_TEXT = (text: string) => !namesAccountOperator(text);

const shortText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('A', 'a', ' A ', 'TELGOO5', 'telgoo5', 'V', 'ATV', '5', 'Delhi', '', ' ', '\t', '0', '-1'),
);

/** A percent-encoding of every byte (`%41%42…`), in either hex case. */
const encodeAll = (text: string, lower = false) =>
  [...Buffer.from(text)]
    .map((b) => `%${b.toString(16).padStart(2, '0')}`)
    .map((e) => (lower ? e : e.toUpperCase()))
    .join('');

const secretArb = fc
  .tuple(fc.constantFrom(...SECRETS.map(([, v]) => v)), fc.constantFrom('raw', 'encoded', 'upper', 'half'))
  .map(([value, form]) =>
    form === 'raw'
      ? value
      : form === 'encoded'
        ? encodeAll(value)
        : form === 'upper'
          ? value.toUpperCase()
          : `${value.slice(0, 4)}${encodeAll(value.slice(4), true)}`,
  );

const otherAuthArb = fc.constantFrom<readonly (readonly [string, string])[]>(
  [['Authorization', `Bearer ${OPS_KEY}`]],
  [],
  [['Authorization', 'Bearer nope-not-a-key-at-all']],
  [['Authorization', `bearer  ${SHOP_KEY}`]],
  [['Authorization', `Basic ${Buffer.from(`x:${OPS_KEY}`).toString('base64')}`]],
  [['Authorization', `Bearer ${TOKEN}`]],
  [['X-Api-Key', SHOP_KEY]],
);

/** Mostly the client's key (so requests reach the routes' own checks), sometimes anything else. */
const authArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constant<readonly (readonly [string, string])[]>([['Authorization', `Bearer ${SHOP_KEY}`]]),
  },
  { weight: 1, arbitrary: otherAuthArb },
);

// ---------------------------------------------------------------------------------------------
// (1) JSON bodies for POST /v1/recharges: valid orders, mutated

type JValue = { readonly raw: string } | { readonly obj: readonly JEntry[] };
type JEntry = readonly [keyText: string, value: JValue];

const q = (value: unknown) => JSON.stringify(value);
const entry = (key: string, value: unknown): JEntry => [q(key), { raw: q(value) }];

function writeJson(value: JValue): string {
  if ('raw' in value) return value.raw;
  return `{${value.obj.map(([k, v]) => `${k}:${writeJson(v)}`).join(',')}}`;
}

const orderIdArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,24}$/).map((s) => `fz-${s}`);

const a1OrderArb = fc
  .record({
    orderId: orderIdArb,
    operator: fc.constantFrom('A', 'V', 'JIO', 'a'),
    circle: fc.constantFrom('5', 'Delhi', undefined),
    number: fc.stringMatching(/^[6-9]\d{9}$/),
    amount: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom('199.50', '10', 10.5)),
  })
  .map((o): JEntry[] =>
    Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => entry(k, v)),
  );

const telgoo5OrderArb = fc
  .record({ orderId: orderIdArb, planCode: fc.constantFrom('12', '99'), zip: fc.stringMatching(/^\d{5}$/) })
  .map(({ orderId, planCode, zip }): JEntry[] => [
    entry('orderId', orderId),
    entry('operator', 'TELGOO5'),
    entry('number', '2065550123'),
    entry('amount', 12),
    [
      q('telgoo5'),
      {
        obj: [
          entry('enrollmentId', 'AGKN4441'),
          entry('planCode', planCode),
          entry('topupType', 'ADDON'),
          entry('paymentToken', 'pm_9503946000062304'),
          entry('billingState', 'WA'),
          entry('billingCity', 'Seattle'),
          entry('billingZip', zip),
        ],
      },
    ],
  ]);

/** A JSON value as text: wrong types, huge strings, nesting, unicode, numbers at the edges. */
const jsonValueText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .jsonValue({ maxDepth: 3 })
      .filter((v) => typeof v !== 'string' || SAFE_TEXT(v))
      .map(q),
  },
  { weight: 2, arbitrary: shortText.filter(SAFE_TEXT).map(q) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 24_000 }).map((n) => q('x'.repeat(n))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0',
      '-0',
      '-1',
      '1e308',
      '1e999',
      '-1e999',
      '5e-324',
      '9007199254740993',
      '123456789012345678901234567890',
      '1.005',
      '10.999',
      '1E2',
      '0.0000001',
      'true',
      'false',
      'null',
      '[]',
      '{}',
      '""',
      '" "',
      '"\\u0000"',
      '"\\ud800"',
      '"𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃"',
      '"A\\u0301"',
      '[[[[[[[[[[]]]]]]]]]]',
      '{"a":{"b":{"c":{"d":{}}}}}',
    ),
  },
);

const KEY_NAMES = [
  'orderId',
  'operator',
  'circle',
  'number',
  'amount',
  'value1',
  'value2',
  'telgoo5',
  'planCode',
  'paymentToken',
  'billingAddress1',
  'billingZip',
  'note',
  'cardNumber',
  'card-number',
  'CVV',
  'pan',
  'expiry',
  '',
  ' ',
  'ａｍｏｕｎｔ',
] as const;

const keyTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...KEY_NAMES).map(q),
  fc.string({ maxLength: 10 }).map(q),
  // The same names spelled with escapes: `"amo\u0075nt"` is `amount`.
  fc.constantFrom('"amo\\u0075nt"', '"\\u006frderId"', '"operat\\u006fr"', '"__pro\\u0074o__"'),
);

type Mutation =
  | { readonly op: 'drop'; readonly at: number; readonly deep: boolean }
  | { readonly op: 'set'; readonly at: number; readonly deep: boolean; readonly value: string }
  | { readonly op: 'add'; readonly key: string; readonly deep: boolean; readonly value: string }
  | {
      readonly op: 'dup';
      readonly at: number;
      readonly deep: boolean;
      readonly value: string;
      readonly escaped: boolean;
    }
  | { readonly op: 'proto'; readonly key: string; readonly deep: boolean; readonly value: string }
  | {
      readonly op: 'card';
      readonly at: number;
      readonly deep: boolean;
      readonly card: string;
      readonly form: (typeof CARD_FORMS)[number];
      readonly how: 'replace' | 'add' | 'nest';
    }
  | { readonly op: 'secret'; readonly key: string; readonly value: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat(20), deep: fc.boolean() }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(20), deep: fc.boolean(), value: jsonValueText }),
  fc.record({ op: fc.constant('add' as const), key: keyTextArb, deep: fc.boolean(), value: jsonValueText }),
  fc.record({
    op: fc.constant('dup' as const),
    at: fc.nat(20),
    deep: fc.boolean(),
    value: jsonValueText,
    escaped: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('proto' as const),
    key: fc.constantFrom('"__proto__"', '"constructor"', '"prototype"', '"__pro\\u0074o__"'),
    deep: fc.boolean(),
    value: fc.constantFrom('{"isAdmin":true}', '{}', 'null', '1', '{"amount":5000}'),
  }),
  fc.record({
    op: fc.constant('card' as const),
    at: fc.nat(20),
    deep: fc.boolean(),
    card: cardArb,
    form: fc.constantFrom(...CARD_FORMS),
    how: fc.constantFrom('replace' as const, 'add' as const, 'nest' as const),
  }),
  fc.record({
    op: fc.constant('secret' as const),
    key: fc.constantFrom('"apiKey"', '"callbackToken"', '"password"', '"note"'),
    value: secretArb.map(q),
  }),
);

/** Applies one mutation to the body (or to its `telgoo5` object when `deep` and there is one). */
function mutate(entries: readonly JEntry[], m: Mutation): { entries: JEntry[]; card?: string } {
  const nested = entries.findIndex(([k, v]) => k === q('telgoo5') && 'obj' in v);
  if ('deep' in m && m.deep && nested >= 0) {
    const [key, value] = entries[nested]!;
    const inner = mutate((value as { obj: readonly JEntry[] }).obj, { ...m, deep: false });
    const out = [...entries];
    out[nested] = [key, { obj: inner.entries }];
    return { entries: out, ...(inner.card ? { card: inner.card } : {}) };
  }
  const out = [...entries];
  const pick = (at: number) => (out.length === 0 ? -1 : at % out.length);
  switch (m.op) {
    case 'drop': {
      const i = pick(m.at);
      if (i >= 0) out.splice(i, 1);
      return { entries: out };
    }
    case 'set': {
      const i = pick(m.at);
      if (i >= 0) out[i] = [out[i]![0], { raw: m.value }];
      return { entries: out };
    }
    case 'add':
      out.push([m.key, { raw: m.value }]);
      return { entries: out };
    case 'dup': {
      const i = pick(m.at);
      if (i < 0) return { entries: out };
      const key = out[i]![0];
      // `"amount"` again, or spelled with its first letter escaped: `"\u0061mount"`.
      const spelled =
        m.escaped && key.length > 2
          ? `"\\u${key.charCodeAt(1).toString(16).padStart(4, '0')}${key.slice(2)}`
          : key;
      out.push([spelled, { raw: m.value }]);
      return { entries: out };
    }
    case 'proto':
      out.splice(Math.min(1, out.length), 0, [m.key, { raw: m.value }]);
      return { entries: out };
    case 'card': {
      const text = writeCard(m.card, m.form);
      const raw = m.form === 'number' ? text : q(text);
      const i = pick(m.at);
      if (m.how === 'replace' && i >= 0) out[i] = [out[i]![0], { raw }];
      else if (m.how === 'nest' && i >= 0)
        out[i] = [out[i]![0], { obj: [entry('line1', '1 Main St'), [q('x'), { raw }]] }];
      else out.push([q(`field${m.at}`), { raw }]);
      return { entries: out, card: m.card };
    }
    case 'secret':
      out.push([m.key, { raw: m.value }]);
      return { entries: out };
  }
}

const jsonContentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json;charset=latin1',
      'text/plain',
      'text/csv',
      'application/x-www-form-urlencoded',
      'application/json, text/csv',
      '',
    ),
  },
);

const jsonProbeArb: fc.Arbitrary<Probe> = fc
  .record({
    base: fc.oneof(a1OrderArb, telgoo5OrderArb),
    mutations: fc.array(mutationArb, { maxLength: 4 }),
    shape: fc.oneof(
      { weight: 10, arbitrary: fc.constant('object' as const) },
      { weight: 2, arbitrary: fc.constant('truncated' as const) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('array' as const, 'bom' as const, 'spaced' as const, 'trailing' as const),
      },
    ),
    cut: fc.double({ min: 0, max: 1, noNaN: true }),
    contentType: jsonContentType,
    auth: authArb,
  })
  .map(({ base, mutations, shape, cut, contentType, auth }): Probe => {
    let entries: JEntry[] = base;
    const cards: string[] = [];
    for (const m of mutations) {
      const next = mutate(entries, m);
      entries = next.entries;
      if (next.card) cards.push(next.card);
    }
    const text = writeJson({ obj: entries });
    const body =
      shape === 'truncated'
        ? text.slice(0, Math.floor(text.length * cut))
        : shape === 'array'
          ? `[${text}]`
          : shape === 'bom'
            ? `\ufeff${text}`
            : shape === 'spaced'
              ? ` \n\t${text}\r\n `
              : shape === 'trailing'
                ? `${text},`
                : text;
    return {
      generator: 'json',
      line: 'POST /v1/recharges HTTP/1.1',
      headers: ordinaryHeaders(body, [
        ...auth,
        ...(contentType ? [['Content-Type', contentType] as const] : []),
      ]),
      body,
      ending: 'wait',
      cards: cards.filter((card) => body.includes(card.slice(-4))),
    };
  });

// ---------------------------------------------------------------------------------------------
// (2) CSV bodies for POST /v1/batches

const HEADER = 'orderId,operator,circle,number,amount,value1,value2';
const COLUMNS = HEADER.split(',');

const cellChars = fc.constantFrom(...'abcXYZ019 ,;"\'\t\r\n\\é€\u0000\u00a0=+-@'.split(''));
const randomCell = fc
  .oneof(
    fc.string({ unit: cellChars, maxLength: 16 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.constantFrom('A', 'TELGOO5', '5', '9800000000', '10', '=HYPERLINK("x")', '"', '""', '"a""b"', ''),
  )
  .filter(SAFE_TEXT);

/** One CSV cell as written: quoted when it needs to be (or not, to break the file). */
const writeCell = (cell: string, quote: boolean) => (quote ? `"${cell.replace(/"/g, '""')}"` : cell);

type CsvRow =
  | { readonly kind: 'valid'; readonly id: string; readonly number: string; readonly amount: number }
  | { readonly kind: 'random'; readonly cells: readonly string[]; readonly quote: boolean }
  | {
      readonly kind: 'card';
      readonly column: number;
      readonly card: string;
      readonly form: (typeof CARD_FORMS)[number];
    }
  | { readonly kind: 'huge'; readonly size: number }
  | { readonly kind: 'broken-quote'; readonly cell: string }
  | { readonly kind: 'blank'; readonly text: string };

const csvRowArb: fc.Arbitrary<CsvRow> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('valid' as const),
      id: fc.stringMatching(/^[a-z0-9]{1,12}$/),
      number: fc.stringMatching(/^[6-9]\d{9}$/),
      amount: fc.integer({ min: 1, max: 20_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('random' as const),
      cells: fc.array(randomCell, { minLength: 0, maxLength: 9 }),
      quote: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('card' as const),
      column: fc.nat(8),
      card: cardArb,
      form: fc.constantFrom(...CARD_FORMS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.integer({ min: 500, max: 4_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('broken-quote' as const),
      cell: fc.string({ maxLength: 10 }).filter(SAFE_TEXT),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('blank' as const),
      text: fc.constantFrom('', ' ', ',,,,,,', '\t'),
    }),
  },
);

function writeRow(row: CsvRow, n: number, tag: string): string {
  switch (row.kind) {
    case 'valid':
      return `fzc-${tag}-${row.id}-${n},A,5,${row.number},${row.amount},,`;
    case 'random':
      return row.cells.map((c) => writeCell(c, row.quote)).join(',');
    case 'card': {
      const cells = [`fzc-${tag}-card-${n}`, 'A', '5', '9800000000', '10', '', ''];
      const text = writeCard(row.card, row.form);
      cells[row.column % cells.length] = text;
      if (row.column >= cells.length) cells.push(text);
      return cells.map((c) => writeCell(c, /[",\s]/.test(c))).join(',');
    }
    case 'huge':
      return `fzc-${tag}-huge-${n},A,5,9800000000,10,${'h'.repeat(row.size)},`;
    case 'broken-quote':
      return `fzc-${tag}-q-${n},"A,5,${row.cell},10,,`;
    case 'blank':
      return row.text;
  }
}

const csvHeaderArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant(HEADER) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.shuffledSubarray(COLUMNS, { minLength: 1 }).map((c) => c.join(',')),
      fc.constantFrom(
        HEADER.toUpperCase(),
        `${HEADER},extra`,
        'orderid,operator,number,amount',
        '"orderId","operator","circle","number","amount","value1","value2"',
        'orderId;operator;circle;number;amount',
        '',
        'orderId,orderId,operator,number,amount',
      ),
    ),
  },
);

type CsvTransport =
  | 'text/csv'
  | 'application/csv'
  | 'multipart'
  | 'multipart-broken'
  | 'multipart-no-file'
  | 'abort'
  | 'abort-big';

const csvProbeArb: fc.Arbitrary<Probe> = fc
  .record({
    tag: fc.stringMatching(/^[a-z0-9]{6}$/),
    bom: fc.boolean(),
    header: csvHeaderArb,
    rows: fc.array(csvRowArb, { maxLength: 25 }),
    eols: fc.array(fc.constantFrom('\n', '\r\n', '\r', '\n\n'), { minLength: 1, maxLength: 5 }),
    trailing: fc.constantFrom('', '\n', '\r\n', '\n\n\n'),
    bytes: fc.boolean(),
    transport: fc.oneof(
      { weight: 6, arbitrary: fc.constant<CsvTransport>('text/csv') },
      {
        weight: 3,
        arbitrary: fc.constantFrom<CsvTransport>(
          'application/csv',
          'multipart',
          'multipart-broken',
          'multipart-no-file',
          'abort',
          'abort-big',
        ),
      },
    ),
    auth: authArb,
    filenameCard: fc.option(fc.tuple(cardArb, fc.constantFrom(...CARD_FORMS)), { freq: 6 }),
    headerCard: fc.option(fc.tuple(cardArb, fc.constantFrom(...CARD_FORMS)), { freq: 12 }),
  })
  .map(
    ({ tag, bom, header, rows, eols, trailing, bytes, transport, auth, filenameCard, headerCard }): Probe => {
      // A card where a column name should be: an unknown column is named back in the batch's error.
      const head = headerCard ? `${header},${writeCard(...headerCard)}` : header;
      const lines = [head, ...rows.map((row, n) => writeRow(row, n, tag))];
      // Past one upload chunk (1 MiB): abandoned after its first chunk is stored.
      if (transport === 'abort-big') {
        // Long rows (under the row limit), so the rows limit does not refuse it first.
        const filler = `fzc-${tag}-big,A,5,9800000000,10,${'p'.repeat(900)},`;
        lines.push(...Array.from({ length: Math.ceil(1_200_000 / (filler.length + 1)) }, () => filler));
      }
      const csv = `${bom ? '\ufeff' : ''}${lines.map((line, i) => `${line}${i < lines.length - 1 ? eols[i % eols.length] : ''}`).join('')}${trailing}`;
      // `bytes`: the text as single bytes (a BOM and non-ASCII then arrive as invalid UTF-8).
      const cards = rows.flatMap((row) => (row.kind === 'card' ? [row.card] : []));
      // The file's name may carry a card too (a name is stored with the batch and shown back).
      const filename = filenameCard ? `${writeCard(...filenameCard)}.csv` : `orders-${tag}.csv`;
      if (filenameCard) cards.push(filenameCard[0]);
      if (headerCard) cards.push(headerCard[0]);
      const boundary = `----fz${tag}`;
      let body = csv;
      let contentType: string = transport;
      if (transport.startsWith('multipart')) {
        const part =
          transport === 'multipart-no-file'
            ? `--${boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n${csv}\r\n--${boundary}--\r\n`
            : `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`;
        body =
          transport === 'multipart-broken'
            ? part.slice(0, Math.max(10, part.length - 12 - tag.length))
            : part;
        contentType = `multipart/form-data; boundary=${transport === 'multipart-broken' && tag < 'm' ? 'other' : boundary}`;
      }
      const abandoned = transport === 'abort' || transport === 'abort-big';
      if (abandoned) contentType = 'text/csv';
      const headers = ordinaryHeaders(
        body,
        [
          ...auth,
          ['Content-Type', contentType],
          ...(filenameCard ? [['X-Filename', filename] as const] : []),
        ],
        bytes,
      );
      return {
        generator: 'csv',
        line: 'POST /v1/batches HTTP/1.1',
        // An abandoned upload announces more than it sends, and the client goes away.
        headers: abandoned
          ? headers.map(([k, v]) => (k === 'Content-Length' ? [k, String(Number(v) + 50_000)] : [k, v]))
          : headers,
        body,
        bytes,
        ending: abandoned ? 'abort' : 'wait',
        cards,
      };
    },
  );

// ---------------------------------------------------------------------------------------------
// (3) URLs, paths and query strings

/** A card number as a URL may carry it: plain, dashed, with `+` or `%20` between groups, digits escaped. */
const cardInUrlArb = fc
  .tuple(cardArb, fc.constantFrom('plain', 'dashes', 'plus', 'space', 'escaped'))
  .map(([card, form]) =>
    form === 'plain'
      ? card
      : form === 'dashes'
        ? writeCard(card, 'dashes')
        : form === 'plus'
          ? card.replace(/(\d{4})(?=\d)/g, '$1+')
          : form === 'space'
            ? card.replace(/(\d{4})(?=\d)/g, '$1%20')
            : `${card.slice(0, 4)}${encodeAll(card.slice(4))}`,
  );

const segmentArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'v1',
      'recharges',
      'batches',
      'callbacks',
      'a1topup',
      'reconciliation',
      'manual-review',
      'providers',
      'healthz',
      'readyz',
      'docs',
      'json',
      'admin',
      'queues',
      'metrics',
      'results.csv',
      'resolve',
      'fz-order-1',
      'b_AAAAAAAAAAAAAAAA',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', '.', '..', '%2e', '%2E%2E', '%2F', '%2f', '%5C', '\\', '%00', ';', '~'),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: fc.constantFrom(..."abAB09-_.~!$&'()*+,;=:@".split('')), maxLength: 10 }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => encodeURIComponent(s)) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%z', '%zz', '%E0%A4%A', '%C0%AF', '%ff', '%%', '%u0041') },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 400 }).map((n) => 's'.repeat(n)) },
  { weight: 1, arbitrary: cardInUrlArb },
);

/** The callback path with the token, in a form that a path matcher may or may not see as such. */
const tokenPathArb = fc.constantFrom(
  `/callbacks/a1topup/${TOKEN}`,
  `//callbacks/a1topup/${TOKEN}`,
  `/./callbacks/a1topup/${TOKEN}`,
  `/v1/../callbacks/a1topup/${TOKEN}`,
  `/callbacks%2Fa1topup/${TOKEN}`,
  `/callbacks%2fa1topup%2f${TOKEN}`,
  `/callbacks%252Fa1topup/${TOKEN}`,
  `/%63allbacks/a1topup/${TOKEN}`,
  `/CaLlBaCkS/A1TopUp/${TOKEN}`,
  `/callbacks/A1TOPUP/${TOKEN.toUpperCase()}`,
  `/callbacks/a1topup/${encodeAll(TOKEN)}`,
  `/callbacks/a1topup/${TOKEN.slice(0, 6)}${encodeAll(TOKEN.slice(6), true)}`,
  `/callbacks\\a1topup\\${TOKEN}`,
  `/callbacks/a1topup/${TOKEN}/`,
  `/callbacks/a1topup/${TOKEN}/extra`,
  `/callbacks/a1topup/${TOKEN}%00`,
  `/callbacks/a1topup/${TOKEN}#frag`,
  `/callbacks/${TOKEN}`,
  `/x/callbacks/a1topup/${TOKEN}`,
);

const plainQueryValueArb = fc.oneof(
  fc.constantFrom(
    '',
    'garbage',
    '0',
    '-1',
    '501',
    '1e3',
    'Success',
    'Failure',
    'received',
    '1960-01-01T00:00:00Z',
    '%zz',
    '%',
  ),
  fc.string({ unit: fc.constantFrom(...'aZ09 +%&=;?/'.split('')), maxLength: 12 }),
);

/** Values of parameters nothing reads (or that are refused): secrets and cards too. */
const queryValueArb = fc.oneof(plainQueryValueArb, secretArb, cardInUrlArb);

/** A complete callback (txid and status) with odd extras: stored, so its record is searched too. */
const callbackQueryArb = fc
  .tuple(
    fc.stringMatching(/^[A-Z0-9]{1,12}$/),
    fc.constantFrom('Success', 'Failure', 'Pending', 'success', ' Success '),
    fc.option(fc.stringMatching(/^[A-Za-z0-9]{1,10}$/), { nil: undefined }),
    fc.array(fc.tuple(fc.constantFrom('token', 'url', 'key', 'note'), queryValueArb), { maxLength: 2 }),
  )
  .map(
    ([txid, status, opid, extras]) =>
      `?txid=RFZ${txid}&status=${encodeURIComponent(status)}${opid ? `&opid=${opid}` : ''}${extras.map(([k, v]) => `&${k}=${v}`).join('')}`,
  );

const queryArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: callbackQueryArb },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.oneof(
          // What a callback stores is the provider's own text (txid, status, opid): never a secret
          // or a card here, or the record would hold what the test itself put there.
          fc.tuple(fc.constantFrom('txid', 'status', 'opid'), plainQueryValueArb),
          fc.tuple(
            fc.constantFrom(
              'limit',
              'cursor',
              'from',
              'to',
              'clientId',
              'outcome',
              'token',
              'key',
              'url',
              'x',
              'txid[]',
              '__proto__',
            ),
            queryValueArb,
          ),
        ),
        { maxLength: 5 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '?',
      '??',
      '?&&',
      '?=',
      '?a',
      `?token=${TOKEN}&url=/callbacks/a1topup/${TOKEN}`,
    ),
  },
);

type UrlForm = 'origin' | 'absolute' | 'absolute-https' | 'asterisk' | 'no-slash' | 'long';

const urlProbeArb: fc.Arbitrary<Probe> = fc
  .record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant('GET') },
      { weight: 3, arbitrary: fc.constantFrom('POST', 'HEAD', 'DELETE', 'PUT', 'PATCH', 'OPTIONS') },
    ),
    path: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.array(segmentArb, { minLength: 0, maxLength: 6 }).map((s) => `/${s.join('/')}`),
      },
      { weight: 2, arbitrary: tokenPathArb },
    ),
    query: queryArb,
    form: fc.oneof(
      { weight: 8, arbitrary: fc.constant<UrlForm>('origin') },
      {
        weight: 2,
        arbitrary: fc.constantFrom<UrlForm>('absolute', 'absolute-https', 'asterisk', 'no-slash', 'long'),
      },
    ),
    longBy: fc.integer({ min: 2_000, max: 20_000 }),
    auth: authArb,
  })
  .map(({ method: verb, path: p, query, form, longBy, auth }): Probe => {
    const target =
      form === 'absolute'
        ? `http://api.example${p}${query}`
        : form === 'absolute-https'
          ? `https://user:${PASSWORD}@127.0.0.1:${port}${p}${query}`
          : form === 'asterisk'
            ? '*'
            : form === 'no-slash'
              ? `${p.replace(/^\/+/, '')}${query}`
              : form === 'long'
                ? `${p}/${'l'.repeat(longBy)}${query}`
                : `${p}${query}`;
    const body = verb === 'POST' && p.includes('callbacks') ? 'txid=RFZ1&status=Success' : '';
    // The cards among the segments and values (digits decoded, `+` a space as in a query).
    const cards = decoded(target)
      .replace(/\+/g, ' ')
      .split(/[^\d\s-]+/)
      .map((part) => findCardNumber(part))
      .filter((card): card is string => card !== null);
    return {
      generator: 'urls',
      line: `${verb} ${target} HTTP/1.1`,
      headers: ordinaryHeaders(body, [
        ...auth,
        ...(body ? [['Content-Type', 'application/x-www-form-urlencoded'] as const] : []),
      ]),
      body,
      ending: 'wait',
      cards,
    };
  });

// ---------------------------------------------------------------------------------------------
// (4) Headers: content types, Expect, Content-Length mismatches, framing

const headerRouteArb = fc.constantFrom(
  {
    line: 'POST /v1/recharges',
    body: q({ orderId: 'fzh-1', operator: 'A', number: '9800000000', amount: 10 }),
  },
  { line: 'POST /v1/batches', body: `${HEADER}\nfzh-row-1,A,5,9800000000,10,,\n` },
  { line: 'GET /v1/recharges', body: '' },
  { line: `POST /callbacks/a1topup/${TOKEN}`, body: 'txid=RFZH&status=Success' },
  { line: 'POST /v1/recharges/fz-x/resolve', body: q({ status: 'failed', reason: 'fuzz' }) },
  { line: 'GET /healthz', body: '' },
);

const contentTypeArb = fc.oneof(
  fc.constantFrom(
    'application/json',
    'APPLICATION/JSON; charset=UTF-8',
    'text/csv',
    'application/csv',
    'text/csv; charset=utf-16',
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary=----x',
    'application/x-www-form-urlencoded',
    'text/plain',
    'application/octet-stream',
    'application/json, text/csv',
    ';',
    '/',
    'application/',
    '*/*',
    'application/json\u00ff',
    `text/csv; ${'p=1; '.repeat(200)}`,
  ),
  fc.string({ unit: fc.constantFrom(...'abc/;=+-. '.split('')), maxLength: 30 }),
);

type Framing =
  | 'exact'
  | 'shorter'
  | 'longer'
  | 'none'
  | 'negative'
  | 'garbage'
  | 'twice'
  | 'twice-same'
  | 'chunked'
  | 'chunked-broken'
  | 'chunked-and-length'
  | 'te-gzip';

const framingArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Framing>('exact') },
  {
    weight: 6,
    arbitrary: fc.constantFrom<Framing>(
      'shorter',
      'longer',
      'none',
      'negative',
      'garbage',
      'twice',
      'twice-same',
      'chunked',
      'chunked-broken',
      'chunked-and-length',
      'te-gzip',
    ),
  },
);

const extraHeaderArb: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.constantFrom<readonly [string, string]>(
    ['Expect', '100-continue'],
    ['Expect', '100-Continue'],
    ['Expect', '200-ok'],
    ['Expect', ''],
    ['Content-Encoding', 'gzip'],
    ['Content-Encoding', 'br, identity'],
    ['Accept', '*/*'],
    ['Accept-Encoding', 'gzip'],
    ['X-Forwarded-For', '1.2.3.4, 5.6.7.8'],
    ['X-Filename', '../../etc/passwd'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Connection', 'keep-alive'],
    ['Host', 'evil.example'],
    ['Cookie', `session=${TOKEN}`],
    ['X-Password', PASSWORD],
    ['Range', 'bytes=0-1'],
    ['If-None-Match', '*'],
  ),
  fc.tuple(
    fc.string({ unit: fc.constantFrom(...'abcXYZ-_'.split('')), minLength: 1, maxLength: 12 }),
    fc.string({ unit: fc.constantFrom(...'abc XYZ019;,=/"\t\u00e9'.split('')), maxLength: 40 }),
  ),
  fc.integer({ min: 4_000, max: 20_000 }).map((n) => ['X-Filler', 'f'.repeat(n)] as const),
);

const headersProbeArb: fc.Arbitrary<Probe> = fc
  .record({
    route: headerRouteArb,
    version: fc.oneof(
      { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'HTTP/1.0',
          'HTTP/2.0',
          'HTTP/1.2',
          'HTTP/0.9',
          'http/1.1',
          'HTTP/1.1 extra',
        ),
      },
    ),
    contentType: fc.option(contentTypeArb, { nil: undefined, freq: 5 }),
    framing: framingArb,
    host: fc.constantFrom('normal', 'normal', 'normal', 'none', 'twice', 'empty'),
    connection: fc.constantFrom('close', 'close', 'keep-alive', 'none'),
    extra: fc.array(extraHeaderArb, { maxLength: 3 }),
    auth: authArb,
    // Any bytes (written one byte per character).
    garbageBody: fc.option(
      fc.string({
        unit: fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b)),
        maxLength: 200,
      }),
      { freq: 4 },
    ),
  })
  .map(({ route, version, contentType, framing, host, connection, extra, auth, garbageBody }): Probe => {
    const body = garbageBody ?? route.body;
    const encoding = garbageBody !== null ? 'latin1' : 'utf8';
    const length = Buffer.byteLength(body, encoding);
    const headers: (readonly [string, string])[] = [];
    if (host === 'normal') headers.push(['Host', `127.0.0.1:${port}`]);
    if (host === 'twice') headers.push(['Host', `127.0.0.1:${port}`], ['Host', 'other.example']);
    if (host === 'empty') headers.push(['Host', '']);
    if (connection !== 'none') headers.push(['Connection', connection]);
    headers.push(...auth);
    if (contentType !== undefined) headers.push(['Content-Type', contentType]);
    headers.push(...extra);
    let wire = body;
    let ending: Probe['ending'] = 'wait';
    const chunked = (text: string) => `${length.toString(16)}\r\n${text}\r\n0\r\n\r\n`;
    switch (framing) {
      case 'exact':
        headers.push(['Content-Length', String(length)]);
        break;
      case 'shorter':
        headers.push(['Content-Length', String(Math.max(0, length - 5))]);
        break;
      case 'longer':
        // Announced longer than sent: the client then gives up (half-closes).
        headers.push(['Content-Length', String(length + 10)]);
        ending = 'half-close';
        break;
      case 'none':
        break;
      case 'negative':
        headers.push(['Content-Length', '-1']);
        break;
      case 'garbage':
        headers.push(['Content-Length', '12abc']);
        break;
      case 'twice':
        headers.push(['Content-Length', String(length)], ['Content-Length', String(length + 1)]);
        break;
      case 'twice-same':
        headers.push(['Content-Length', String(length)], ['Content-Length', String(length)]);
        break;
      case 'chunked':
        headers.push(['Transfer-Encoding', 'chunked']);
        wire = chunked(body);
        break;
      case 'chunked-broken':
        headers.push(['Transfer-Encoding', 'chunked']);
        wire = `zz\r\n${body}\r\n0\r\n\r\n`;
        break;
      case 'chunked-and-length':
        headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', String(length)]);
        wire = chunked(body);
        break;
      case 'te-gzip':
        headers.push(['Transfer-Encoding', 'gzip, chunked']);
        wire = chunked(body);
        break;
    }
    return {
      generator: 'headers',
      line: `${route.line} ${version}`,
      headers,
      body: wire,
      bytes: garbageBody !== null,
      ending,
      cards: [],
    };
  });

// ---------------------------------------------------------------------------------------------
// Running a generator

const ARBITRARIES: Record<Generator, fc.Arbitrary<Probe>> = {
  json: jsonProbeArb,
  csv: csvProbeArb,
  urls: urlProbeArb,
  headers: headersProbeArb,
};

interface GeneratorStats {
  runs: number;
  requests: number;
  interrupted: boolean;
  ms: number;
  statuses: Map<number, number>;
}
const stats = new Map<Generator, GeneratorStats>();
/** Every card number sent, for the search of logs and records after the run. */
const cardsSent = new Set<string>();
/** Batches answered 202 (by any generator): every batch in the ledger must be one of them. */
const batchesCreated = new Set<string>();

/** A request as it can be read in a failure message: long runs of one character shortened. */
function describeProbe(probe: Probe): string {
  const shorten = (text: string) =>
    text.replace(
      /(.)\1{40,}/gs,
      (run, ch: string) => `${ch.repeat(8)}…(${run.length} × ${JSON.stringify(ch)})`,
    );
  const head = `${probe.line}\n${probe.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}`;
  const body = shorten(probe.body);
  return `${shorten(head)}\n\n${body.length > 3_000 ? `${body.slice(0, 3_000)}…(${body.length} chars)` : body}\n(ending: ${probe.ending}${probe.bytes ? ', body as bytes' : ''})`;
}

async function healthy(): Promise<string | undefined> {
  for (const probe of ['/healthz', '/readyz']) {
    const answer = await send({
      generator: 'urls',
      line: `GET ${probe} HTTP/1.1`,
      headers: ordinaryHeaders('', []),
      body: '',
      ending: 'wait',
      cards: [],
    });
    if (answer.status !== 200)
      return `${probe} answered ${answer.status} afterwards: ${answer.body.slice(0, 200)}`;
  }
  return undefined;
}

async function fuzz(generator: Generator): Promise<void> {
  const own: GeneratorStats = { runs: 0, requests: 0, interrupted: false, ms: 0, statuses: new Map() };
  stats.set(generator, own);
  let running: Promise<unknown> = Promise.resolve();
  const execute = async (probe: Probe) => {
    own.requests++;
    for (const card of probe.cards) cardsSent.add(card);
    const answer = await send(probe);
    own.statuses.set(answer.status, (own.statuses.get(answer.status) ?? 0) + 1);
    if (answer.status === 202 && probe.line.startsWith('POST /v1/batches')) {
      const batchId = (JSON.parse(answer.body) as { batchId?: string }).batchId;
      if (batchId) batchesCreated.add(batchId);
    }
    const problem = problemWith(probe, answer) ?? (await healthy());
    if (problem) throw new Error(problem);
  };
  const property = fc.asyncProperty(ARBITRARIES[generator], (probe) => {
    const run = execute(probe);
    running = run.catch(() => undefined);
    return run;
  });
  const t0 = performance.now();
  const details = await fc.check(property, {
    seed,
    ...(path ? { path, endOnFailure: true } : {}),
    numRuns,
    interruptAfterTimeLimit: timeLimitMs,
    markInterruptAsFailure: false,
  });
  await running;
  own.runs = details.numRuns;
  own.interrupted = details.interrupted;
  own.ms = Math.round(performance.now() - t0);
  if (!details.failed) return;
  const probe = details.counterexample?.[0];
  const why =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const message = [
    `fuzz (${generator}) failed after ${details.numRuns} runs, ${details.numShrinks} shrinks: ${why}`,
    `replay: FC_SEED=${seed} FC_PATH=${details.counterexamplePath ?? ''} FC_ONLY=${generator} node node_modules/vitest/vitest.mjs run packages/http/test/fuzz.test.ts`,
    'shrunk request:',
    probe ? describeProbe(probe) : '(none)',
  ].join('\n');
  console.log(message);
  expect.fail(message);
}

// ---------------------------------------------------------------------------------------------
// After the run: leases, logs and records

async function scan(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Every value under the test's prefix, by key, as text (strings, hashes, lists, sets, zsets, streams). */
async function everythingStored(): Promise<Map<string, string>> {
  const stored = new Map<string, string>();
  for (const key of await scan(`${prefix}*`)) {
    const type = await redis.type(key);
    const parts: string[] = [key];
    if (type === 'string') parts.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
    else if (type === 'set') parts.push(...(await redis.smembers(key)));
    else if (type === 'zset') parts.push(...(await redis.zrange(key, '0', '-1')));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    stored.set(key, parts.join('\n'));
  }
  return stored;
}

const UPLOAD_CHUNK = /:batch:[^:]+:upload:\d+$/;

describe('fuzz: random and mutated JSON, CSV, URLs and headers against a real listener', () => {
  const testTimeout = timeLimitMs * 3 + 30_000;

  it('is seeded with card numbers of payment networks (what the API must refuse)', () => {
    for (const card of fc.sample(cardArb, { seed, numRuns: 200 }))
      expect(isCardNumber(card), card).toBe(true);
  });

  for (const generator of GENERATORS) {
    it.skipIf(!only.has(generator))(
      `${generator}: no 5xx, every 4xx in the error shape, the API still answering`,
      () => fuzz(generator),
      testTimeout,
    );
  }

  it('afterwards: no upload outlives its lease, no secret or card in any log line or record, all ready', async () => {
    const t0 = performance.now();
    // Past the lease: Redis expires what an abandoned upload left; the sweep clears the entries.
    // The server may still have written a chunk (and started its lease) a moment after its client
    // went, so the leases still running are waited out (bounded), not counted as left over.
    const leases = `${LEDGER_PREFIX}:uploads:leases`;
    const leased = await redis.zcard(leases);
    await sleep(UPLOAD_LEASE_MS + 300);
    let swept = 0;
    const waitUntil = Date.now() + 3 * UPLOAD_LEASE_MS;
    for (;;) {
      for (let removed = -1; removed !== 0; ) {
        removed = await ledger.sweepUploads(1_000);
        swept += removed;
      }
      const [seconds, micros] = await redis.time();
      const running = await redis.zcount(
        leases,
        `(${Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)}`,
        '+inf',
      );
      if (running === 0 || Date.now() > waitUntil) break;
      await sleep(200);
    }
    const orphans: string[] = [];
    for (const key of await scan(`${LEDGER_PREFIX}:batch:*:upload:*`)) {
      if (!UPLOAD_CHUNK.test(key)) continue;
      const batchKey = key.slice(0, key.lastIndexOf(':upload:'));
      if ((await redis.exists(batchKey)) === 0) orphans.push(key);
      // A stored batch's chunks stay with it, without an expiry.
      else expect(await redis.pttl(key), key).toBe(-1);
    }
    expect(orphans, 'upload chunks whose batch does not exist').toEqual([]);
    expect(await scan(`${LEDGER_PREFIX}:batch:*:upload-lease`), 'upload leases left').toEqual([]);
    expect(await redis.zcard(`${LEDGER_PREFIX}:uploads:leases`), 'lease entries left').toBe(0);
    expect(await redis.zcard(`${LEDGER_PREFIX}:client:shop:upload-leases`)).toBe(0);

    // Every batch stored was answered 202 to the client that sent it: none was created behind an
    // answer that said otherwise (a refusal, or no answer).
    const stored: { batchId: string; clientId: string }[] = [];
    for (const key of await scan(`${LEDGER_PREFIX}:batch:*`)) {
      if (!/:batch:[^:]+$/.test(key)) continue;
      const [batchId, clientId] = await redis.hmget(key, 'batchId', 'clientId');
      if (batchId && clientId) stored.push({ batchId, clientId });
    }
    expect(
      stored.filter(({ batchId }) => !batchesCreated.has(batchId)),
      'batches stored without a 202',
    ).toEqual([]);

    // The stored batches go through the importer, so their rows (cards among them) become orders
    // and row results as a worker would make them; bounded in time.
    let imported = 0;
    const importUntil = performance.now() + 3_000;
    for (const batch of stored) {
      if (performance.now() > importUntil) break;
      await importBatch({ ledger, producer, log: logger }, batch);
      imported++;
    }

    // Every batch imported: nothing of any client counts as stored-but-not-imported any more (an
    // upload left to its lease stopped counting when the lease ran out, and the sweep cleared it).
    if (imported === stored.length) {
      for (const clientId of ['shop', 'ops']) {
        const counted = await redis.hgetall(`${LEDGER_PREFIX}:client:${clientId}:pending-uploads`);
        const states: Record<string, unknown> = {};
        for (const id of Object.keys(counted))
          states[id] = await redis.hgetall(`${LEDGER_PREFIX}:batch:${id}`);
        expect(
          await ledger.pendingUploadBytes(clientId),
          `${clientId}: ${JSON.stringify({ counted, states })}`,
        ).toBe(0);
      }
    }

    // Problems by kind (the same leak repeats once per request that made it).
    const problems = new Map<string, string[]>();
    const report = (kind: string, detail: string) =>
      problems.set(kind, [...(problems.get(kind) ?? []), detail]);
    /** A key's kind: its ids and numbers replaced. */
    const keyKind = (key: string) =>
      key
        .slice(prefix.length)
        .replace(/:batch:[^:]+/, ':batch:<id>')
        .replace(/:(order|history|callback):[^:]+/, ':$1:<id>')
        .replace(/\d+/g, '#');
    for (const line of logLines) {
      const secrets = secretsIn(line);
      if (secrets.length > 0) report(`a log line holds the ${secrets.join(', ')}`, line.slice(0, 600));
      const cards = cardsIn(line, cardsSent);
      if (cards.length > 0)
        report('a log line holds a card number', `${cards.join(', ')}: ${line.slice(0, 600)}`);
    }
    const errors = logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    for (const line of errors) report('an error-level log line', line.slice(0, 600));

    const records = await everythingStored();
    for (const [key, text] of records) {
      const secrets = secretsIn(text);
      if (secrets.length > 0) report(`${keyKind(key)} holds the ${secrets.join(', ')}`, key);
      // The uploaded file itself is kept as sent, with its batch (documented, docs/security.md).
      if (UPLOAD_CHUNK.test(key)) continue;
      const cards = cardsIn(text, cardsSent);
      if (cards.length > 0)
        report(`${keyKind(key)} holds a card number`, `${cards.join(', ')}: ${text.slice(0, 1500)}`);
    }
    let callbacksShown = 0;
    for (const outcome of CALLBACK_OUTCOMES) {
      const res = await app.inject({
        method: 'GET',
        url: `/v1/callbacks?outcome=${outcome}&limit=500`,
        headers: { authorization: `Bearer ${OPS_KEY}` },
      });
      expect(res.statusCode).toBe(200);
      callbacksShown += (res.json() as { callbacks: unknown[] }).callbacks.length;
      const secrets = secretsIn(res.body);
      if (secrets.length > 0) report(`GET /v1/callbacks shows the ${secrets.join(', ')}`, outcome);
      if (res.body.includes('/callbacks/')) report('GET /v1/callbacks shows a URL', outcome);
    }
    expect(
      [...problems.entries()].flatMap(([kind, list]) =>
        list.slice(0, 3).map((detail) => `${kind}: ${detail}`),
      ),
      [...problems.entries()].map(([kind, list]) => `${list.length}× ${kind}`).join('; '),
    ).toEqual([]);
    expect(await healthy()).toBeUndefined();

    const total = (performance.now() - startedAt) / 1_000;
    const per = GENERATORS.filter((g) => stats.has(g))
      .map((g) => {
        const s = stats.get(g)!;
        const codes = [...s.statuses.entries()]
          .sort(([a], [b]) => a - b)
          .map(([code, n]) => `${code}×${n}`)
          .join(' ');
        return `${g} ${s.runs} runs${s.interrupted ? ' (time limit)' : ''} in ${(s.ms / 1_000).toFixed(1)} s [${codes}]`;
      })
      .join('; ');
    console.log(
      `fuzz: ${per}; seed ${seed}; ${cardsSent.size} cards, ${stored.length} batches (${imported} imported), ${callbacksShown} callbacks, ${logLines.length} log lines, ${records.size} keys searched, ${discardsFailed} discards failed on purpose, ${leased} uploads under lease after the run, ${swept} swept; after-run checks ${((performance.now() - t0) / 1_000).toFixed(1)} s; total ${total.toFixed(1)} s`,
    );
  }, 60_000);
});
