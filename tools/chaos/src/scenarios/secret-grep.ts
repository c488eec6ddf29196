import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import {
  a1Order,
  Checks,
  freePort,
  PAYMENT_TOKEN_PREFIX,
  pool,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  System,
  sleep,
  telgoo5Order,
  waitFor,
} from '../harness.ts';

const CARD = '4111111111111111';
/** The card as people type it (sent in a nested address field below). */
const SPACED_CARD = '4111 1111 1111 1111';
/** A Telgoo5 token (a JWT) anywhere: header.payload.signature, base64url. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;
/** Ten digits not inside a longer run of digits: a candidate phone number or MDN. */
const TEN_DIGITS = /(?<!\d)\d{10}(?!\d)/g;

interface Source {
  readonly kind: 'log' | 'job' | 'queue' | 'ledger' | 'metrics';
  readonly where: string;
  readonly text: string;
}

/**
 * Traffic through every path (A1Topup orders: success, definite failure, late result with
 * callbacks, unreadable answer settled by status, reversal; Telgoo5 top-ups including ambiguous
 * ones and a token invalidation; a CSV batch; Telgoo5 orders carrying a raw card number, by field
 * name and by shape only (a card as the payment token, inside a nested address), which must be
 * refused; callbacks whose request line carries the token in every leaking form — absolute-form,
 * `//`, `/./`, `%2F`, an encoded token, the token in the query — and one sent as text/csv;
 * operator reads), every process at LOG_LEVEL=debug. Then every log line of every
 * process, every key under the system's Redis prefix (BullMQ job hashes and events, the token pool,
 * breaker, ledger orders, history, callbacks, batches) and every /metrics page are searched for
 * the provider passwords and pin, the API keys, the callback token, Telgoo5 tokens (anything
 * JWT-shaped), and the card number: 0 hits anywhere. Full phone numbers/MDNs and payment tokens
 * must not appear in logs, job payloads or metrics (the ledger holds them by design: it must send
 * them to the provider).
 */
export const secretGrep: Scenario = {
  name: 'secret-grep',
  title: 'no secret in any log line, job payload, ledger record or metric',
  budgetMs: 150_000,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const checks = new Checks();
    const k = ctx.sized(20, 4);
    const [workerMetrics, pollerMetrics] = [await freePort(), await freePort()];
    const system = new System({
      name: 'secrets',
      workers: 1,
      providers: ['a1topup', 'telgoo5'],
      callbacks: true,
      // The breaker is not under test: unreadable answers in a row must not hold the rest back.
      env: { LOG_LEVEL: 'debug', PROVIDER_TIMEOUT_MS: '2000', BREAKER_FAILURE_THRESHOLD: '1000' },
      simEnv: { SIM_SETTLE_AFTER_MS: '1500', SIM_CALLBACK_COPIES: '2' },
      workerEnv: { METRICS_PORT: String(workerMetrics) },
      pollerEnv: { METRICS_PORT: String(pollerMetrics), VERIFY_REVERSALS: 'on' },
    });
    ctx.onCleanup(async () => {
      await system.stop();
      ctx.say(`deleted ${await system.cleanup()} keys`);
    });
    await system.start();
    // A second worker, without a metrics port (it would collide with the first one's).
    await system.startWorker(1, { METRICS_PORT: '0' }).waitForLine(/recharge worker running/, 60_000);
    const numbers = new Set<string>();
    let n = 0;
    const mobile = () => {
      const number = String(9_200_000_000 + n++ * 7);
      numbers.add(number);
      return number;
    };
    const mdn = () => {
      const number = String(2_065_000_000 + n++ * 7);
      numbers.add(number);
      return number;
    };

    // A1Topup: success, definite failure, late result (callbacks), unreadable (status check), reversal.
    const a1: Record<string, unknown>[] = [];
    for (const amount of [10, 13, 17, 37, 23])
      for (let i = 0; i < k; i++) a1.push(a1Order(`sg-a1-${amount}-${i}`, amount, mobile()));
    // Telgoo5: plain top-ups and ambiguous ones (manual review).
    const t5: Record<string, unknown>[] = [];
    for (let i = 0; i < k; i++) t5.push(telgoo5Order(`sg-t5-${i}`, 12, mdn()));
    for (let i = 0; i < Math.max(2, Math.round(k / 4)); i++)
      t5.push(telgoo5Order(`sg-t5-amb-${i}`, 37, mdn()));
    const bodies = [...a1, ...t5];
    const firstT5 = t5.slice(0, Math.ceil(k / 2));
    const first = await system.submitAll([...a1.slice(0, a1.length / 2), ...firstT5], { concurrency: 6 });
    await system.waitSettled(ctx.say, 30_000, ['queued', 'processing']);
    // Every Telgoo5 token outstanding now (the pool's) is refused from here on: workers log in again.
    const invalidated = await system.getJson<{ invalidated: number }>(
      `${system.sim}/_sim/telgoo5/tokens/invalidate`,
      undefined,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    const second = await system.submitAll([...a1.slice(a1.length / 2), ...t5.slice(firstT5.length)], {
      concurrency: 6,
    });
    const refused = [...first.refused, ...second.refused];
    checks.expect(refused.length === 0, `${refused.length} orders refused: ${JSON.stringify(refused[0])}`);

    // Raw card data: refused with 400 card_data_refused, nested or at the top level.
    const cardNested = await system.post(
      '/v1/recharges',
      telgoo5Order('sg-card-1', 12, mdn(), {
        cardNumber: CARD,
        cvv: '737',
        expiryMonth: '12',
        expiryYear: '2030',
      }),
    );
    const cardTop = await system.post('/v1/recharges', {
      ...telgoo5Order('sg-card-2', 12, mdn()),
      card_number: CARD,
    });
    const cardRule = (a: { body: Record<string, unknown> }) =>
      JSON.stringify(a.body.issues ?? '').includes('card_data_refused');
    checks.expect(
      cardNested.status === 400 && cardRule(cardNested) && cardTop.status === 400 && cardRule(cardTop),
      `raw card data not refused (${cardNested.status}, ${cardTop.status})`,
    );
    // Card numbers by shape, in fields that are not named like card fields: refused the same way.
    const byShape = [
      await system.post(
        '/v1/recharges',
        telgoo5Order('sg-card-3', 12, mdn(), { paymentToken: `pm_${CARD}` }),
      ),
      await system.post(
        '/v1/recharges',
        telgoo5Order('sg-card-4', 12, mdn(), { billingAddress1: { line1: SPACED_CARD } }),
      ),
      await system.post('/v1/recharges', telgoo5Order('sg-card-5', 12, mdn(), { billingCity: CARD })),
      await system.post('/v1/recharges', a1Order(CARD, 10, mobile())),
    ];
    checks.expect(
      byShape.every((a) => a.status === 400 && cardRule(a)),
      `card numbers by shape not refused (${byShape.map((a) => a.status).join(', ')})`,
    );

    // The callback token in every form a request line may take (absolute-form, doubled slashes,
    // dot segments, encoded separators, an encoded token, the token in the query) and a callback
    // sent as text/csv: whether the route takes it or not, it must reach no log line or record.
    const token = system.secrets.callbackToken;
    const encoded = [...token].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
    const callbackForms = [
      `GET http://${new URL(system.api).host}/callbacks/a1topup/${token}?txid=RFSG1&status=Success HTTP/1.1`,
      `GET //callbacks/a1topup/${token}?txid=RFSG2&status=Success HTTP/1.1`,
      `GET /./callbacks/a1topup/${token}?txid=RFSG3&status=Success HTTP/1.1`,
      `GET /callbacks%2Fa1topup/${token}?txid=RFSG4&status=Success HTTP/1.1`,
      `GET /callbacks/a1topup/${encoded}?txid=RFSG5&status=Success HTTP/1.1`,
      `GET /callbacks/a1topup/${token}?txid=RFSG6&status=Success&token=${token} HTTP/1.1`,
    ];
    const callbackAnswers: number[] = [];
    for (const line of callbackForms) callbackAnswers.push(await rawRequest(system.api, line));
    callbackAnswers.push(
      await rawRequest(
        system.api,
        `POST /callbacks/a1topup/${token}?txid=RFSG7&status=Success HTTP/1.1`,
        { 'content-type': 'text/csv' },
        'txid,status\nRFSG7,Success\n',
      ),
    );
    checks.expect(
      callbackAnswers.every((status) => status > 0 && status < 500),
      `callback URL forms answered ${callbackAnswers.join(', ')}`,
    );

    // A CSV batch.
    const rows = Array.from(
      { length: Math.max(10, k * 2) },
      (_, i) => `sg-b-${i},A,5,${mobile()},${10 + i},,`,
    );
    const csv = `orderId,operator,circle,number,amount,value1,value2\n${rows.join('\n')}\n`;
    const upload = await fetch(`${system.api}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.secrets.apiKey}`, 'content-type': 'text/csv' },
      body: csv,
    });
    const batch = (await upload.json()) as { batchId: string };
    checks.expect(upload.status === 202, `batch upload answered ${upload.status}`);

    const settled = await system.waitSettled(ctx.say, 60_000, ['queued', 'processing', 'pending']);
    checks.expect(settled, 'orders still in progress');
    await waitFor(
      'the batch to be done',
      async () => {
        const view = await system.getJson<{ state: string }>(
          `${system.api}/v1/batches/${batch.batchId}`,
          system.headers,
        );
        return view.state === 'done' ? view : undefined;
      },
      60_000,
      250,
    ).catch(() => checks.expect(false, 'the batch did not finish'));
    await waitFor(
      'reversals',
      async () => ((await system.counts()).reversed >= k ? true : undefined),
      30_000,
      250,
    ).catch(() => checks.expect(false, 'not every reversal was applied'));
    // Reads by a shop and an operator (their answers are not scanned: they are the API's output).
    const ops = system.operatorHeaders;
    const reads = [
      `${system.api}/v1/recharges?limit=100`,
      `${system.api}/v1/recharges/sg-t5-0`,
      `${system.api}/v1/batches/${batch.batchId}/results.csv`,
      `${system.api}/v1/manual-review?limit=50`,
      `${system.api}/v1/callbacks?outcome=applied&limit=50`,
      `${system.api}/v1/providers`,
      `${system.api}/v1/reconciliation?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`,
    ];
    for (const url of reads) {
      const res = await fetch(url, {
        headers:
          url.includes('manual-review') || url.includes('callbacks') || url.includes('reconciliation')
            ? ops
            : system.headers,
      });
      checks.expect(res.ok, `GET ${url.replace(system.api, '')} answered ${res.status}`);
      await res.body?.cancel();
    }
    await sleep(1_500);

    const sim = await system.simStats();
    const t5stats = await system.getJson<{
      authentications: number;
      tokensIssued: number;
      cardFieldViolations: number;
      tokenRejections: Record<string, number>;
    }>(`${system.sim}/_sim/telgoo5/stats`);
    checks.expect(
      t5stats.cardFieldViolations === 0,
      `${t5stats.cardFieldViolations} card fields reached Telgoo5`,
    );
    const counts = await system.counts();

    // A real Telgoo5 token, never used by the system: a canary for the JWT detector (below).
    const login = await system.getJson<{ token?: string }>(`${system.sim}/telgoo5/authenticate`, undefined, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        vendor_id: system.env.TELGOO5_VENDOR_ID,
        username: system.env.TELGOO5_USERNAME,
        password: system.secrets.t5Password,
        pin: system.secrets.t5Pin,
      }),
    });
    // Collect: metrics first (the parts must be running), then Redis, then stop and take every log line.
    const sources: Source[] = [];
    for (const [where, url] of [
      ['api', `${system.api}/metrics`],
      ['worker', `http://127.0.0.1:${workerMetrics}/metrics`],
      ['poller', `http://127.0.0.1:${pollerMetrics}/metrics`],
    ] as const) {
      const res = await fetch(url, where === 'api' ? { headers: system.operatorHeaders } : undefined).catch(
        () => null,
      );
      checks.expect(res?.ok === true, `no metrics from the ${where} (${res?.status ?? 'no answer'})`);
      if (res?.ok) sources.push({ kind: 'metrics', where, text: await res.text() });
    }
    const scanned = await dumpKeys(system.redis, system.prefix, system.ledgerPrefix);
    sources.push(...scanned.sources);
    const codes = await system.stop();
    for (const part of system.parts)
      for (const line of part.lines) sources.push({ kind: 'log', where: part.name, text: line });

    const everywhere: [string, (text: string) => boolean][] = [
      ['A1Topup password', (t) => t.includes(system.secrets.a1Password)],
      ['Telgoo5 password', (t) => t.includes(system.secrets.t5Password)],
      ['Telgoo5 pin', (t) => t.includes(system.secrets.t5Pin)],
      ['client API key', (t) => t.includes(system.secrets.apiKey)],
      ['operator API key', (t) => t.includes(system.secrets.operatorKey)],
      [
        'callback token',
        (t) => t.includes(system.secrets.callbackToken) || t.toLowerCase().includes(encoded.toLowerCase()),
      ],
      ['Telgoo5 token (JWT)', (t) => JWT.test(t)],
      ['card number', (t) => t.includes(CARD) || t.includes(SPACED_CARD)],
    ];
    const personal: [string, (text: string) => boolean][] = [
      ['full phone number / MDN', (t) => [...t.matchAll(TEN_DIGITS)].some((m) => numbers.has(m[0]))],
      ['payment token', (t) => t.includes(PAYMENT_TOKEN_PREFIX)],
    ];
    // The detectors themselves, on planted canaries: a search that cannot find a planted secret
    // would prove nothing.
    const canary = [
      ...Object.values(system.secrets),
      login.token ?? '',
      CARD,
      [...numbers][0] ?? '',
      `${PAYMENT_TOKEN_PREFIX}1234`,
    ].join(' x ');
    const blind = [...everywhere, ...personal].filter(([, found]) => !found(canary)).map(([name]) => name);
    checks.expect(
      blind.length === 0 && !!login.token,
      `detectors blind to planted canaries: ${blind.join(', ')}`,
    );

    const hits: Record<string, number> = {};
    const examples: string[] = [];
    let ledgerPersonal = 0;
    for (const source of sources) {
      const rules = source.kind === 'ledger' ? everywhere : [...everywhere, ...personal];
      for (const [name, found] of rules) {
        if (!found(source.text)) continue;
        hits[`${name} in ${source.kind}`] = (hits[`${name} in ${source.kind}`] ?? 0) + 1;
        if (examples.length < 5)
          examples.push(`${source.kind} ${source.where}: ${redact(source.text, system)}`);
      }
      if (source.kind === 'ledger' && personal.some(([, found]) => found(source.text))) ledgerPersonal += 1;
    }
    for (const example of examples) ctx.say(`HIT ${example}`);
    const totalHits = Object.values(hits).reduce((a, b) => a + b, 0);
    checks.expect(totalHits === 0, `${totalHits} hits: ${JSON.stringify(hits)}`);
    const badExits = Object.entries(codes).filter(([, c]) => c !== 0);
    checks.expect(badExits.length === 0, `parts exited badly: ${JSON.stringify(badExits)}`);
    checks.expect(system.crashed().length === 0, `processes died: ${system.crashed().join(', ')}`);

    const count = (kind: Source['kind']) => sources.filter((s) => s.kind === kind).length;
    checks.figure(
      'traffic',
      `${bodies.length} orders + a ${rows.length}-row batch (${JSON.stringify(counts)}), ${[cardNested, cardTop, ...byShape].filter((a) => a.status === 400).length}/${2 + byShape.length} card orders refused with 400 (${byShape.length} by shape only), ${callbackAnswers.length} callbacks in leaking URL forms (answered ${callbackAnswers.join(' ')}), ${sim.callbacks.delivered} callbacks, ${t5stats.authentications} Telgoo5 logins / ${t5stats.tokensIssued} tokens issued, ${invalidated.invalidated} invalidated mid-run (rejections ${JSON.stringify(t5stats.tokenRejections)})`,
    );
    checks.figure(
      'log lines scanned',
      `${count('log')} from ${system.parts.length} processes at LOG_LEVEL=debug`,
    );
    checks.figure(
      'BullMQ job payloads scanned',
      `${scanned.jobs} job hashes (all fields), plus ${count('queue')} other queue records`,
    );
    checks.figure('ledger records scanned', `${count('ledger')} records in ${scanned.ledgerKeys} keys`);
    checks.figure('metrics pages scanned', count('metrics'));
    checks.figure(
      'secrets searched for',
      `${everywhere.map(([n]) => n).join(', ')} (everywhere); ${personal.map(([n]) => n).join(', ')} (logs, jobs, metrics)`,
    );
    checks.figure(
      'detector self-test',
      `${everywhere.length + personal.length - blind.length}/${everywhere.length + personal.length} detectors fire on planted canaries`,
    );
    checks.figure('hits', totalHits === 0 ? 0 : JSON.stringify(hits));
    checks.figure('ledger records holding a phone number / payment token (by design)', ledgerPersonal);
    return checks.result(
      `${count('log')} log lines, ${scanned.jobs} job payloads, ${count('ledger')} ledger records, ${count('metrics')} metrics pages: ${totalHits} hits`,
    );
  },
};

/** Every key under the prefix, as scannable text: one source per hash field, list/set item, string. */
async function dumpKeys(
  redis: Redis,
  prefix: string,
  ledgerPrefix: string,
): Promise<{ sources: Source[]; jobs: number; ledgerKeys: number }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const sources: Source[] = [];
  let jobs = 0;
  let ledgerKeys = 0;
  await pool(keys, 16, async (key) => {
    const ledger = key.startsWith(`${ledgerPrefix}:`);
    if (ledger) ledgerKeys += 1;
    const type = await redis.type(key);
    const texts: string[] = [];
    if (type === 'string') {
      const value = await redis.getBuffer(key);
      if (value) texts.push(value.toString('utf8'));
    } else if (type === 'hash') {
      const fields = await redis.hgetall(key);
      if (!ledger && 'data' in fields && 'opts' in fields) jobs += 1;
      texts.push(...Object.entries(fields).map(([f, v]) => `${f}=${v}`));
    } else if (type === 'list') {
      texts.push(...(await redis.lrange(key, 0, -1)));
    } else if (type === 'set') {
      texts.push(...(await redis.smembers(key)));
    } else if (type === 'zset') {
      texts.push(...(await redis.zrange(key, '0', '-1')));
    } else if (type === 'stream') {
      const entries = (await redis.xrange(key, '-', '+')) as [string, string[]][];
      texts.push(...entries.map(([, fields]) => fields.join(' ')));
    }
    // The key name itself may carry data too.
    texts.push(key);
    const isJob = !ledger && type === 'hash';
    for (const text of texts)
      sources.push({ kind: ledger ? 'ledger' : isJob ? 'job' : 'queue', where: key, text });
  });
  return { sources, jobs, ledgerKeys };
}

/**
 * One request written as is on a socket (an HTTP client would normalise the request line), with
 * `connection: close`; answers the status code (0: none).
 */
function rawRequest(
  api: string,
  requestLine: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<number> {
  const { hostname, port, host } = new URL(api);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    const done = () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
    socket.setEncoding('latin1');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', done);
    socket.on('close', done);
    const head = Object.entries({
      host,
      connection: 'close',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(`${requestLine}\r\n${head}\r\n${body}`);
  });
}

/** A hit shown without the secret itself. */
function redact(text: string, system: System): string {
  let out = text;
  for (const value of Object.values(system.secrets)) out = out.split(value).join('<SECRET>');
  return out.split(CARD).join('<CARD>').replace(JWT, '<JWT>').slice(0, 300);
}
