import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { configuredSecrets } from '@rechargeflow/config';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

// Issue 13, findings 4 and 7: the callback token and card numbers must reach no log line and no
// record, whatever shape the request takes. The API runs as in production (a real listener, the
// logger configured from the environment as apps/api does) against the real Redis; every log line
// at debug level is captured, every key under the test's prefix is read back.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-secrets-${randomUUID().slice(0, 8)}`;
const TOKEN = `cbtok-${randomUUID().replace(/-/g, '')}`;
const SHOP_KEY = `shop-${randomUUID()}`;
const OPS_KEY = `ops-${randomUUID()}`;
const CARD = '4111111111111111';
const CARD_FORMS = [CARD, '4111 1111 1111 1111', '4111-1111-1111-1111'];

let app: FastifyInstance;
let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;
let port = 0;
const logLines: string[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'secrets-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  app = await buildApi({
    ledger,
    producer,
    logger: createLogger({
      name: 'secrets-test',
      level: 'debug',
      secrets: configuredSecrets({
        CALLBACK_TOKEN: TOKEN,
        API_KEYS: `shop:${SHOP_KEY},ops:${OPS_KEY}:operator`,
      }),
      destination: { write: (line: string) => logLines.push(line) },
    }),
    keys: [
      { clientId: 'shop', secret: SHOP_KEY, role: 'client' },
      { clientId: 'ops', secret: OPS_KEY, role: 'operator' },
    ],
    rateLimitPerMinute: 10_000,
    callbackRateLimitPerMinute: 10_000,
    bodyLimitBytes: 16_384,
    callbackTokens: [TOKEN],
    readiness: async () => undefined,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await app.close();
  await producer.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

/**
 * One request written byte for byte on a socket (so the request line reaches the server exactly
 * as given: absolute-form, `//`, `/./`, `%2F`, which an HTTP client would normalise), answered
 * status code.
 */
function raw(requestLine: string, headers: Record<string, string> = {}, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    const head = Object.entries({
      host: `127.0.0.1:${port}`,
      connection: 'close',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    // Not end(): a half-closed socket is an aborted request to Node's server. `connection: close`
    // makes the server close once it has answered.
    socket.write(`${requestLine}\r\n${head}\r\n${body}`);
  });
}

/** Every value stored under the test's prefix (ledger and queues), as text. */
async function everythingStored(): Promise<string> {
  const texts: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    texts.push(key);
    const type = await redis.type(key);
    if (type === 'string') texts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') texts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') texts.push(...(await redis.lrange(key, 0, -1)));
    else if (type === 'set') texts.push(...(await redis.smembers(key)));
    else if (type === 'zset') texts.push(...(await redis.zrange(key, '0', '-1')));
    else if (type === 'stream') texts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return texts.join('\n');
}

const encodeAll = (text: string) =>
  [...Buffer.from(text)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

describe('the callback token never reaches a log line or a record', () => {
  // Each form a request line may take; the query makes each a complete, distinct callback.
  const forms: [string, string][] = [
    ['origin-form', `/callbacks/a1topup/${TOKEN}?txid=RFS01&status=Success&opid=OP1`],
    ['absolute-form', `http://api.example/callbacks/a1topup/${TOKEN}?txid=RFS02&status=Success`],
    [
      'absolute-form, doubled slash',
      `http://api.example//callbacks/a1topup/${TOKEN}?txid=RFS03&status=Success`,
    ],
    ['doubled slash', `//callbacks/a1topup/${TOKEN}?txid=RFS04&status=Success`],
    ['dot segment', `/./callbacks/a1topup/${TOKEN}?txid=RFS05&status=Success`],
    ['dot-dot segment', `/v1/../callbacks/a1topup/${TOKEN}?txid=RFS06&status=Success`],
    ['encoded slash', `/callbacks%2Fa1topup/${TOKEN}?txid=RFS07&status=Success`],
    ['encoded slashes, lower case', `/callbacks%2fa1topup%2f${TOKEN}?txid=RFS08&status=Success`],
    ['double-encoded slash', `/callbacks%252Fa1topup/${TOKEN}?txid=RFS09&status=Success`],
    ['encoded letters in the path', `/%63allbacks/a1topup/${TOKEN}?txid=RFS10&status=Success`],
    ['the token percent-encoded', `/callbacks/a1topup/${encodeAll(TOKEN)}?txid=RFS11&status=Success`],
    [
      'the token half encoded',
      `/callbacks/a1topup/${TOKEN.slice(0, 6)}${encodeAll(TOKEN.slice(6))}?txid=RFS12&status=Success`,
    ],
    ['upper-case path', `/CALLBACKS/A1TOPUP/${TOKEN}?txid=RFS13&status=Success`],
    ['backslashes', `/callbacks\\a1topup\\${TOKEN}?txid=RFS14&status=Success`],
    [
      'the token also in the query',
      `/callbacks/a1topup/${TOKEN}?txid=RFS15&status=Success&token=${TOKEN}&url=/callbacks/a1topup/${TOKEN}`,
    ],
    ['a missing parameter (400)', `/callbacks/a1topup/${TOKEN}?opid=${TOKEN}`],
  ];

  const answered = new Map<string, number>();

  it.each(forms)('%s: not logged', async (name, target) => {
    logLines.length = 0;
    const status = await raw(`GET ${target} HTTP/1.1`);
    expect(status, 'an answer').toBeGreaterThan(0);
    answered.set(name, status);
    // The request was logged (so the assertion below means something) ...
    expect(
      logLines.some((line) => line.includes('"msg":"request"')),
      logLines.join(''),
    ).toBe(true);
    // ... and the token is in no line, in any encoding.
    const text = logLines.join('\n');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(TOKEN.slice(6));
    expect(text.toLowerCase()).not.toContain(encodeAll(TOKEN.slice(6)).toLowerCase());
  });

  it('a callback sent as text/csv, as a form or as JSON stores only txid, status and opid', async () => {
    logLines.length = 0;
    const statuses = [
      await raw(
        `POST /callbacks/a1topup/${TOKEN}?txid=RFS20&status=Success HTTP/1.1`,
        { 'content-type': 'text/csv' },
        `txid,status\nRFS20,Success\n`,
      ),
      await raw(
        `POST /callbacks/a1topup/${TOKEN} HTTP/1.1`,
        { 'content-type': 'application/x-www-form-urlencoded' },
        `txid=RFS21&status=Failure&opid=OP21&token=${TOKEN}&extra=${encodeURIComponent(`/callbacks/a1topup/${TOKEN}`)}`,
      ),
      await raw(
        `POST /callbacks/a1topup/${TOKEN}?txid=RFS22&status=Success&note=${TOKEN} HTTP/1.1`,
        { 'content-type': 'application/json' },
        JSON.stringify({ url: `/callbacks/a1topup/${TOKEN}`, secret: TOKEN }),
      ),
    ];
    // Whatever a route does with a content type (store it, or refuse it), it must not keep the token.
    for (const status of statuses) expect([200, 400, 415]).toContain(status);
    expect(statuses[1]).toBe(200);
    const stored = await ledger.findCallbacks('received', new Date(Date.now() + 1_000).toISOString(), 500);
    const byTxid = new Map(stored.map((c) => [c.providerOrderId, c]));
    expect(byTxid.get('RFS21')?.raw).toBe('txid=RFS21&status=Failure&opid=OP21');
    if (statuses[0] === 200) expect(byTxid.get('RFS20')?.raw).toBe('txid=RFS20&status=Success');
    if (statuses[2] === 200) expect(byTxid.get('RFS22')?.raw).toBe('txid=RFS22&status=Success');
    expect(byTxid.get('RFS01')?.raw).toBe('txid=RFS01&status=Success&opid=OP1');
    expect(byTxid.get('RFS15')?.raw).toBe('txid=RFS15&status=Success');
    for (const callback of stored)
      for (const key of new URLSearchParams(callback.raw).keys())
        expect(['txid', 'status', 'opid']).toContain(key);
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    expect(logLines.join('\n')).not.toContain(TOKEN);
  });

  it('GET /v1/callbacks shows no token, and no key or record in Redis holds it, in any encoding', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/callbacks?outcome=received&limit=500',
      headers: { authorization: `Bearer ${OPS_KEY}` },
    });
    expect(res.statusCode).toBe(200);
    // Stored: each form the callback route took (origin-form, absolute-form, encoded token …).
    const accepted = [...answered.values()].filter((status) => status === 200).length;
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(res.json().callbacks.length).toBeGreaterThanOrEqual(accepted + 1);
    for (const callback of res.json().callbacks as { raw: string }[])
      for (const key of new URLSearchParams(callback.raw).keys())
        expect(['txid', 'status', 'opid']).toContain(key);
    expect(res.body).not.toContain(TOKEN);
    expect(res.body).not.toContain('/callbacks/');
    const stored = await everythingStored();
    expect(stored).toContain('RFS01');
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain(TOKEN.slice(6));
    expect(stored.toLowerCase()).not.toContain(encodeAll(TOKEN.slice(6)).toLowerCase());
  });

  it('an API key sent where it does not belong is not logged either', async () => {
    logLines.length = 0;
    await raw(`GET /v1/nowhere?key=${SHOP_KEY}&k2=${encodeAll(SHOP_KEY)} HTTP/1.1`);
    await raw('GET /admin/queues HTTP/1.1', {
      authorization: `Basic ${Buffer.from(`x:${OPS_KEY}`).toString('base64')}`,
    });
    const text = logLines.join('\n');
    expect(logLines.length).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(SHOP_KEY);
    expect(text).not.toContain(encodeAll(SHOP_KEY));
    expect(text).not.toContain(OPS_KEY);
  });
});

describe('card numbers are refused by shape in every Telgoo5 field, and nothing is stored', () => {
  const auth = { authorization: `Bearer ${SHOP_KEY}` };
  const telgoo5 = {
    enrollmentId: 'AGKN4441',
    planCode: '12',
    topupType: 'ADDON',
    paymentToken: 'pm_9503946000062304',
    billingState: 'WA',
    billingCity: 'Seattle',
    billingZip: '98104',
  };
  const order = (orderId: string, t: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
    orderId,
    operator: 'TELGOO5',
    number: '2065550123',
    amount: 12,
    telgoo5: { ...telgoo5, ...t },
    ...top,
  });
  const post = (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/recharges', headers: auth, payload });
  const refusedFields = (body: { issues?: { field: string; rule: string }[] }) =>
    (body.issues ?? []).filter((i) => i.rule === 'card_data_refused').map((i) => i.field);
  const orderIds: string[] = [];

  it('accepts the documented order (its payment token is a digit run of no card network)', async () => {
    const res = await post(order('tg-ok-1'));
    expect(res.statusCode).toBe(202);
  });

  it.each([
    'enrollmentId',
    'planCode',
    'planId',
    'topupType',
    'paymentToken',
    'customerToken',
    'billingState',
    'billingCity',
    'billingZip',
    'billingAddress1',
    'billingAddress2',
  ])('telgoo5.%s: 400 card_data_refused naming the field, in every way a card is written', async (field) => {
    for (const [i, written] of [...CARD_FORMS, `pm_${CARD}`, Number(CARD)].entries()) {
      const orderId = `tg-card-${field}-${i}`;
      orderIds.push(orderId);
      const res = await post(order(orderId, { [field]: written }));
      expect(res.statusCode, `${field} = ${written}`).toBe(400);
      expect(res.json().error).toBe('validation_failed');
      expect(refusedFields(res.json())).toEqual([`telgoo5.${field}`]);
      expect(res.body).not.toContain('4111');
    }
  });

  it('a wrong-typed optional field is refused, not dropped, and a card inside it is named', async () => {
    orderIds.push('tg-nested-1', 'tg-nested-2', 'tg-nested-3');
    const nested = await post(order('tg-nested-1', { billingAddress1: { cardNumber: CARD } }));
    expect(nested.statusCode).toBe(400);
    expect(refusedFields(nested.json())).toEqual(['telgoo5.billingAddress1.cardNumber']);
    const typed = await post(order('tg-nested-2', { billingAddress1: { line1: '1 Main St' } }));
    expect(typed.statusCode).toBe(400);
    expect(typed.json().issues).toEqual([
      expect.objectContaining({ field: 'telgoo5.billingAddress1', rule: 'type' }),
    ]);
    const list = await post(order('tg-nested-3', { billingZip: ['98104'] }));
    expect(list.statusCode).toBe(400);
    expect(list.json().issues).toEqual([
      expect.objectContaining({ field: 'telgoo5.billingZip', rule: 'type' }),
    ]);
  });

  it('a card number anywhere else in the body is refused too: top-level fields, unknown fields, the order id', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [order('tg-top-1', {}, { number: CARD }), 'number'],
      [order('tg-top-2', {}, { amount: CARD }), 'amount'],
      [order('tg-top-3', {}, { circle: CARD }), 'circle'],
      [order('tg-top-4', { memo: `card ${CARD}` }), 'telgoo5.memo'],
      [order('tg-top-5', {}, { payment: { pan: CARD } }), 'payment.pan'],
      [order(CARD), 'orderId'],
      [
        { orderId: 'a1-card-1', operator: 'A', circle: '5', number: '4111 1111 1111 1111', amount: 10 },
        'number',
      ],
    ];
    for (const [body, field] of cases) {
      orderIds.push(String(body.orderId));
      const res = await post(body);
      expect(res.statusCode, field).toBe(400);
      expect(refusedFields(res.json()), field).toContain(field);
      expect(res.body).not.toContain('4111');
    }
  });

  // Found by the fuzz run (fuzz.test.ts): the request line was logged with the card in clear, and
  // a file name was stored with the batch (and shown by GET /v1/batches) as sent.
  it('a card number in a URL, however it is written, is in no log line', async () => {
    const first = logLines.length;
    for (const target of [
      `/v1/recharges/${CARD}`,
      '/v1/recharges?cursor=4111-1111-1111-1111',
      '/v1/recharges?cursor=4111+1111+1111+1111',
      '/v1/recharges?cursor=4111%201111%201111%201111',
      `/v1/recharges/4111${encodeAll(CARD.slice(4))}`,
      `/nowhere/${CARD}?card=${CARD}&cvv=123`,
    ]) {
      expect(await raw(`GET ${target} HTTP/1.1`, auth), target).toBeGreaterThanOrEqual(400);
    }
    const text = logLines.slice(first).join('\n');
    expect(text.match(/"msg":"request"/g)).toHaveLength(6);
    expect(text).toContain('[card number removed]');
    const digits = text.replace(/%3(\d)/g, '$1').replace(/%20|[\s+-]/g, '');
    expect(digits).not.toContain(CARD);
  });

  it('a card number in an upload’s file name is not kept with the batch', async () => {
    const file = (id: string) =>
      `orderId,operator,circle,number,amount,value1,value2\n${id},A,5,9876543210,10,,\n`;
    const byHeader = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: { ...auth, 'content-type': 'text/csv', 'x-filename': `card ${CARD}.csv` },
      payload: file('fn-1'),
    });
    expect(byHeader.statusCode).toBe(202);
    expect(byHeader.json().filename).toBe('card [card number removed].csv');
    const boundary = 'fn-boundary';
    const byPart = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="4111-1111-1111-1111.csv"\r\nContent-Type: text/csv\r\n\r\n${file('fn-2')}\r\n--${boundary}--\r\n`,
    });
    expect(byPart.statusCode).toBe(202);
    expect(byPart.json().filename).toBe('[card number removed].csv');
    const listed = await app.inject({ method: 'GET', url: '/v1/batches', headers: auth });
    expect(listed.body).toContain('[card number removed]');
    expect(listed.body).not.toMatch(/4111[\s-]?1111/);
    // The last test below also searches every stored key for the digits.
  });

  it('nothing refused was stored or logged: no order, no job, no card digits anywhere', async () => {
    for (const orderId of orderIds) {
      if (orderId === CARD) continue;
      const res = await app.inject({ method: 'GET', url: `/v1/recharges/${orderId}`, headers: auth });
      expect(res.statusCode, orderId).toBe(404);
    }
    const stored = await everythingStored();
    expect(stored).toContain('tg-ok-1');
    for (const digits of ['4111111111111111', '4111 1111', '4111-1111']) {
      expect(stored).not.toContain(digits);
      expect(logLines.join('\n')).not.toContain(digits);
    }
  });
});
