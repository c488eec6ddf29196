import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@rechargeflow/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookSender, MAX_ANSWER_BYTES } from './sender.ts';

// Real loopback receivers; the sender under test is the one the worker uses.
interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}
const received: Received[] = [];
let server: Server;
let base = '';
const BIG = Buffer.alloc(1024 * 1024, 'x');

function handler(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    received.push({
      path: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(chunks).toString(),
    });
    switch (request.url) {
      case '/ok':
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
        return;
      case '/redirect':
        response.writeHead(302, { location: `${base}/ok` }).end();
        return;
      case '/error':
        response.writeHead(500).end('internal error');
        return;
      case '/big':
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end(BIG);
        return;
      case '/echo-number':
        response.writeHead(400).end('{"echo":"number 9876501234 refused"}');
        return;
      case '/hang':
        return; // never answers
      case '/trickle':
        response.writeHead(200);
        response.write('a');
        return; // the body never ends
      default:
        response.writeHead(404).end();
    }
  });
}

beforeAll(async () => {
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const count = (path: string) => received.filter((r) => r.path === path).length;

describe('the webhook sender, allowed onto loopback', () => {
  const sender = createWebhookSender({ timeoutMs: 1_500, allowPrivate: true });
  afterAll(() => sender.close());

  it('POSTs the body as JSON with the given headers and reads a 2xx as delivered', async () => {
    const result = await sender.post(`${base}/ok`, '{"id":"evt_1"}', {
      'Rechargeflow-Event-Id': 'evt_1',
      'Rechargeflow-Signature': 't=1,v1=ab',
    });
    expect(result).toMatchObject({ delivered: true, status: 200, body: '{"received":true}' });
    const request = received.find((r) => r.path === '/ok');
    expect(request?.body).toBe('{"id":"evt_1"}');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['rechargeflow-event-id']).toBe('evt_1');
    expect(request?.headers['rechargeflow-signature']).toBe('t=1,v1=ab');
    expect(request?.headers['user-agent']).toMatch(/^Rechargeflow-Webhooks\//);
  });

  it('never follows a redirect: a 3xx is a failed attempt and its target is not called', async () => {
    const before = count('/ok');
    const result = await sender.post(`${base}/redirect`, '{}', {});
    expect(result).toMatchObject({ delivered: false, status: 302 });
    expect(count('/ok')).toBe(before);
  });

  it('keeps at most the first 256 bytes of an answer and drops the rest unread', async () => {
    const result = await sender.post(`${base}/big`, '{}', {});
    expect(result.delivered).toBe(true);
    expect(result.body).toBe('x'.repeat(MAX_ANSWER_BYTES));
    expect(result.durationMs).toBeLessThan(1_500);
    const error = await sender.post(`${base}/error`, '{}', {});
    expect(error).toMatchObject({ delivered: false, status: 500, body: 'internal error' });
  });

  it('masks a phone or card number a receiver echoes back before it is kept', async () => {
    const result = await sender.post(`${base}/echo-number`, '{}', {});
    expect(result.status).toBe(400);
    expect(result.body).toBe('{"echo":"number 98******34 refused"}');
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const started = Date.now();
    const result = await sender.post(`${base}/hang`, '{}', {});
    expect(result).toMatchObject({ delivered: false, error: 'timed out after 1500 ms' });
    expect(result.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(3_000);
    // An answer whose body never ends is bounded too; its status came, so it counts.
    const trickle = await sender.post(`${base}/trickle`, '{}', {});
    expect(trickle).toMatchObject({ status: 200, body: 'a' });
    expect(trickle.durationMs).toBeLessThan(3_000);
  });

  it('says so when nothing listens', async () => {
    const port = await freePort();
    const result = await sender.post(`http://127.0.0.1:${port}/x`, '{}', {});
    expect(result).toMatchObject({ delivered: false, error: 'connection refused' });
  });
});

describe('the webhook sender with the address guard on (WEBHOOK_ALLOW_PRIVATE off)', () => {
  const sender = createWebhookSender({ timeoutMs: 1_500, allowPrivate: false });
  afterAll(() => sender.close());

  it('refuses loopback by literal address, IPv4-mapped, IPv6, and by a name resolved at connect time', async () => {
    const port = new URL(base).port;
    const before = received.length;
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::1]', 'localhost', 'no-such-host.invalid']) {
      const result = await sender.post(`http://${host}:${port}/ok`, '{}', {});
      expect(result.delivered, host).toBe(false);
      if (host.endsWith('.invalid')) expect(result.error, host).toBe('the host does not resolve');
      else expect(result.error, host).toMatch(/^address not allowed: .*a loopback address/);
    }
    expect(received.length).toBe(before);
  });
});
