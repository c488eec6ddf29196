import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRupees } from '@rechargeflow/domain';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createA1TopupProvider, type RechargeProvider } from '../src/index.ts';
import { errorText, expectProviderError } from './helpers.ts';

// A hand-written provider on loopback, for answers the simulator never gives (wrong orderid,
// refusal statuses, redirects, stalled or unbounded bodies), and to see exactly what goes on the wire.
const PASSWORD = `wire-pw-${randomUUID()}`;
const NUMBER = '9812345678';

interface Seen {
  method: string;
  url: string;
  contentType: string;
  body: URLSearchParams;
}

let server: Server;
let baseUrl: string;
let respond: (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => void;
let seen: Seen[] = [];
let socketsClosed = 0;
const providers: RechargeProvider[] = [];

function provider(timeoutMs = 1_000, maxResponseBytes = 4_096): RechargeProvider {
  const p = createA1TopupProvider({
    baseUrl: `${baseUrl}/prefix/`,
    username: 'wire-user',
    password: PASSWORD,
    format: 'csv',
    timeoutMs,
    connectTimeoutMs: 500,
    maxResponseBytes,
  });
  providers.push(p);
  return p;
}

const call = (orderid = 'RFWIRE1') => ({
  providerOrderId: orderid,
  request: {
    operator: 'LBS',
    circle: '5',
    number: NUMBER,
    amount: parseRupees('199.50')!,
    value1: '011',
    value2: 'ACC-42',
  },
});

beforeAll(async () => {
  server = createServer((req, res) => {
    req.socket.once('close', () => {
      socketsClosed += 1;
    });
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: form,
      });
      respond(req, res, form);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
});

describe('what goes on the wire', () => {
  it('one POST form to the prefixed path, credentials and every field in the body, nothing in the URL', async () => {
    respond = (_req, res, form) =>
      res.end(`9,Success,OP9,${form.get('number')},${form.get('amount')},${form.get('orderid')}`);
    expect(await provider().recharge(call())).toMatchObject({
      status: 'success',
      providerTxId: '9',
      providerRef: 'OP9',
    });
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/prefix/recharge/api');
    expect(request?.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request?.body ?? [])).toEqual({
      username: 'wire-user',
      pwd: PASSWORD,
      circlecode: '5',
      operatorcode: 'LBS',
      number: NUMBER,
      amount: '199.50',
      orderid: 'RFWIRE1',
      format: 'csv',
      value1: '011',
      value2: 'ACC-42',
    });
  });
});

describe('answers only a real provider could give', () => {
  it('an answer about a different orderid is ambiguous', async () => {
    respond = (_req, res) => res.end(`9,Success,OP9,${NUMBER},199.50,RFSOMEONEELSE`);
    await expectProviderError(provider().recharge(call()), 'ambiguous', 'orderid_mismatch');
    await expectProviderError(provider().checkStatus('RFWIRE1'), 'ambiguous', 'orderid_mismatch');
  });

  it('an unknown status text is ambiguous', async () => {
    respond = (_req, res) => res.end(`{"status":"Processing","orderid":"RFWIRE1"}`);
    await expectProviderError(provider().recharge(call()), 'ambiguous', 'unknown_status');
  });

  it('refusal statuses are failed; 408 and a refusal that claims Success are ambiguous', async () => {
    respond = (_req, res) => {
      res.statusCode = 404;
      res.end('Not Found');
    };
    const refused = await expectProviderError(provider().recharge(call()), 'failed', 'http_refused');
    expect(refused.context.httpStatus).toBe(404);
    // A refused status query proves nothing about the order.
    await expectProviderError(provider().checkStatus('RFWIRE1'), 'ambiguous', 'http_refused');
    respond = (_req, res) => {
      res.statusCode = 408;
      res.end();
    };
    await expectProviderError(provider().recharge(call()), 'ambiguous', 'http_status');
    respond = (_req, res) => {
      res.statusCode = 403;
      res.end(`9,Success,OP9,${NUMBER},199.50,RFWIRE1`);
    };
    await expectProviderError(provider().recharge(call()), 'ambiguous', 'http_refused');
  });

  it('redirects are not followed', async () => {
    respond = (req, res) => {
      if (req.url?.endsWith('/elsewhere')) return res.end('9,Success,OP9,,,RFWIRE1');
      res.writeHead(302, { location: '/prefix/elsewhere' });
      res.end();
    };
    await expectProviderError(provider().recharge(call()), 'ambiguous', 'redirect');
    expect(seen.map((s) => s.url)).toEqual(['/prefix/recharge/api']);
  });

  it('a body that never ends is cut at timeoutMs: ambiguous', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('9,Succ');
    };
    const started = performance.now();
    await expectProviderError(provider(500).recharge(call()), 'ambiguous', 'timeout');
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('an unbounded chunked body is abandoned at maxResponseBytes, closing the connection', async () => {
    let writes = 0;
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`9,Success,OP9,${NUMBER},199.50,RFWIRE1`);
      const timer = setInterval(() => {
        writes += 1;
        if (!res.write(' '.repeat(1_024)) || writes > 200) {
          clearInterval(timer);
          if (writes > 200) res.end();
        }
      }, 2);
      res.on('close', () => clearInterval(timer));
    };
    const closedBefore = socketsClosed;
    await expectProviderError(provider(5_000, 2_048).recharge(call()), 'ambiguous', 'response_too_large');
    await new Promise((r) => setTimeout(r, 100));
    expect(writes).toBeLessThan(200);
    expect(socketsClosed).toBeGreaterThan(closedBefore);
  });

  it('an answer echoing the password and number keeps both out of the error', async () => {
    respond = (_req, res, form) => res.end(`oops ${form.get('pwd')} for ${form.get('number')}`);
    const error = await expectProviderError(provider().recharge(call()), 'ambiguous', 'no_status');
    expect(error.context.body).toBe('oops *** for 98******78');
    expect(errorText(error)).not.toContain(PASSWORD);
    expect(errorText(error)).not.toContain(NUMBER);
  });

  it('a status answer saying "No Records Found" without naming the order is not_found', async () => {
    respond = (_req, res) => res.end('{"status":"Failure","message":"No Records Found"}');
    expect(await provider().checkStatus('RFWIRE1')).toMatchObject({ status: 'not_found' });
  });
});

describe('options', () => {
  it('refuses a base URL with credentials or a query, naming the option and not echoing it', () => {
    expect(() =>
      createA1TopupProvider({ baseUrl: `http://u:${PASSWORD}@127.0.0.1`, username: 'u', password: PASSWORD }),
    ).toThrow(/baseUrl must be an http\(s\) URL without credentials/);
    try {
      createA1TopupProvider({ baseUrl: `http://u:${PASSWORD}@127.0.0.1`, username: 'u', password: PASSWORD });
    } catch (error) {
      expect(errorText(error)).not.toContain(PASSWORD);
    }
    expect(() => createA1TopupProvider({ baseUrl: 'ftp://x', username: 'u', password: 'p' })).toThrow(
      /baseUrl/,
    );
    expect(() =>
      createA1TopupProvider({ baseUrl: 'http://x', username: 'u', password: 'p', timeoutMs: 0 }),
    ).toThrow(/timeoutMs/);
    expect(() => createA1TopupProvider({ baseUrl: 'http://x', username: 'u', password: '' })).toThrow(
      /password is required/,
    );
  });
});
