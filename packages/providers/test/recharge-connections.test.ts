import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { parseRupees } from '@rechargeflow/domain';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createA1TopupProvider, type RechargeProvider } from '../src/index.ts';

// How recharges use connections (A1TOPUP_RECHARGE_KEEP_ALIVE_MS): counted on loopback servers.

const answer = (form: URLSearchParams) =>
  form.has('orderid')
    ? `9,Success,OP9,${form.get('number')},${form.get('amount')},${form.get('orderid')}`
    : '1234.50';

const call = (orderid: string) => ({
  providerOrderId: orderid,
  request: { operator: 'V', circle: '5', number: '9812345678', amount: parseRupees('10')! },
});

let http: HttpServer;
let httpUrl: string;
let httpConnections = 0;
let connectionHeaders: (string | undefined)[] = [];
/** Which connection (numbered in order of arrival) each request came on: `recharge@3`, `balance@1`. */
let requestSockets: string[] = [];
const socketIds = new WeakMap<object, number>();
const openSockets = new Set<object>();
const providers: RechargeProvider[] = [];

function provider(baseUrl: string, rechargeKeepAliveMs?: number): RechargeProvider {
  const p = createA1TopupProvider({
    baseUrl,
    username: 'conn-user',
    password: 'conn-pw',
    format: 'csv',
    timeoutMs: 2_000,
    ...(rechargeKeepAliveMs === undefined ? {} : { rechargeKeepAliveMs }),
  });
  providers.push(p);
  return p;
}

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    connectionHeaders.push(req.headers.connection);
    const kind = req.url?.endsWith('/recharge/api') ? 'recharge' : 'read';
    requestSockets.push(`${kind}@${socketIds.get(req.socket)}`);
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => res.end(answer(new URLSearchParams(raw))));
  });
  http.keepAliveTimeout = 30_000; // hints "timeout=30": longer than any client setting below
  http.on('connection', (socket) => {
    httpConnections += 1;
    socketIds.set(socket, httpConnections);
    openSockets.add(socket);
    socket.on('close', () => openSockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  httpConnections = 0;
  connectionHeaders = [];
  requestSockets = [];
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

describe('recharge connections', () => {
  it('by default every recharge opens its own connection and asks to close it; reads reuse one', async () => {
    const p = provider(httpUrl);
    for (const id of ['RFC1', 'RFC2', 'RFC3']) expect((await p.recharge(call(id))).status).toBe('success');
    expect(httpConnections).toBe(3);
    expect(connectionHeaders).toEqual(['close', 'close', 'close']);

    // undici's pool may open a second connection while the first is being released: at most two.
    httpConnections = 0;
    for (let i = 0; i < 6; i++) expect((await p.getBalance()).balance).toBe(123_450);
    expect(httpConnections).toBeGreaterThanOrEqual(1);
    expect(httpConnections).toBeLessThanOrEqual(2);
  });

  it('by default a recharge never goes on a connection a read left idle', async () => {
    const p = provider(httpUrl);
    for (let i = 0; i < 3; i++) {
      await p.getBalance();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the read's connection is idle now
      expect((await p.recharge(call(`RFR${i}`))).status).toBe('success');
    }
    const recharges = requestSockets.filter((r) => r.startsWith('recharge@')).map((r) => r.split('@')[1]);
    const reads = requestSockets.filter((r) => r.startsWith('read@')).map((r) => r.split('@')[1]);
    expect(new Set(recharges).size).toBe(3);
    expect(recharges.filter((id) => reads.includes(id))).toEqual([]);
  });

  it('close() closes the recharge connections as well as the read ones', async () => {
    const p = provider(httpUrl, 5_000);
    expect((await p.recharge(call('RFX1'))).status).toBe('success');
    await p.getBalance();
    expect(openSockets.size).toBeGreaterThanOrEqual(2);
    await p.close();
    for (let i = 0; i < 50 && openSockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openSockets.size).toBe(0);
  });

  it('with rechargeKeepAliveMs, sequential recharges reuse kept-alive connections', async () => {
    const p = provider(httpUrl, 2_000);
    for (let i = 0; i < 6; i++) expect((await p.recharge(call(`RFK${i}`))).status).toBe('success');
    expect(httpConnections).toBeGreaterThanOrEqual(1);
    expect(httpConnections).toBeLessThanOrEqual(2);
    expect(connectionHeaders).toEqual(Array(6).fill('keep-alive'));
  });

  it('an idle recharge connection is not kept past rechargeKeepAliveMs', async () => {
    const p = provider(httpUrl, 150);
    expect((await p.recharge(call('RFI1'))).status).toBe('success');
    expect((await p.recharge(call('RFI2'))).status).toBe('success');
    const before = httpConnections;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await p.recharge(call('RFI3'))).status).toBe('success');
    expect(httpConnections).toBe(before + 1);
    expect(connectionHeaders).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
  });

  it('refuses a keep-alive outside 0..60000 ms, naming the option', () => {
    for (const rechargeKeepAliveMs of [-1, 60_001, 1.5]) {
      expect(() => provider(httpUrl, rechargeKeepAliveMs)).toThrow(
        /rechargeKeepAliveMs must be a whole number from 0 to 60000/,
      );
    }
  });
});

describe('a provider that drops idle connections without saying so', () => {
  // A bare HTTP/1.1 server sending no Keep-Alive hint that closes a connection after 100 ms idle:
  // the client, allowed 5 s, must notice the close and open a new connection instead of writing
  // the next recharge on the dead one (which would make it ambiguous).
  let tcp: TcpServer;
  let tcpUrl: string;
  let tcpConnections = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    tcp = createTcpServer((socket) => {
      tcpConnections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buffer = '';
      let idle: NodeJS.Timeout | undefined;
      socket.on('data', (chunk: Buffer) => {
        clearTimeout(idle);
        buffer += chunk.toString('latin1');
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const length = Number(/content-length:\s*(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          const body = answer(new URLSearchParams(buffer.slice(end + 4, end + 4 + length)));
          buffer = buffer.slice(end + 4 + length);
          socket.write(
            `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          idle = setTimeout(() => socket.end(), 100);
        }
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    tcpUrl = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });

  it('the next recharge after the provider closed the idle connection goes on a new one and succeeds', async () => {
    const p = provider(tcpUrl, 5_000);
    for (let i = 0; i < 4; i++) expect((await p.recharge(call(`RFD${i}`))).status).toBe('success');
    const before = tcpConnections;
    expect(before).toBeLessThanOrEqual(2); // reused within the provider's 100 ms
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(sockets.size).toBe(0); // the provider closed every idle connection
    expect((await p.recharge(call('RFD9'))).status).toBe('success');
    expect(tcpConnections).toBe(before + 1);
  });
});
