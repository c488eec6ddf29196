import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchEventId, deliveryId, endpointSecret, orderEventId } from './ids.ts';
import { signatureHeader, verifySignature } from './signing.ts';

const SECRET = endpointSecret('k'.repeat(32), 'we_0123456789abcdef01234567');
const BODY =
  '{"id":"evt_1","type":"order.succeeded","createdAt":"2026-01-01T00:00:00.000Z","data":{"n":"é"}}';
const NOW = 1_767_225_600;

describe('signatureHeader', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with the endpoint secret', () => {
    const header = signatureHeader(BODY, SECRET, NOW + 0.9);
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex');
    expect(header).toBe(`t=${NOW},v1=${expected}`);
  });
});

describe('verifySignature', () => {
  const header = signatureHeader(BODY, SECRET, NOW);

  it('accepts the signature of the raw body, as a string or as bytes, within the tolerance', () => {
    expect(verifySignature(BODY, header, SECRET, 300, NOW)).toBe(true);
    expect(verifySignature(Buffer.from(BODY), header, SECRET, 300, NOW + 299)).toBe(true);
    expect(verifySignature(BODY, ` ${header.replace(',', ' , ')} `, SECRET, 300, NOW)).toBe(true);
  });

  it('refuses another body, secret or time, a stale or future signature, and malformed headers', () => {
    expect(verifySignature(`${BODY} `, header, SECRET, 300, NOW)).toBe(false);
    expect(
      verifySignature(JSON.stringify(JSON.parse(BODY)).replace('é', '\\u00e9'), header, SECRET, 300, NOW),
    ).toBe(false);
    expect(verifySignature(BODY, header, `${SECRET}x`, 300, NOW)).toBe(false);
    expect(verifySignature(BODY, header.replace(`t=${NOW}`, `t=${NOW + 1}`), SECRET, 300, NOW)).toBe(false);
    expect(verifySignature(BODY, header, SECRET, 300, NOW + 301)).toBe(false);
    expect(verifySignature(BODY, header, SECRET, 300, NOW - 301)).toBe(false);
    for (const bad of [
      undefined,
      '',
      'v1=abc',
      `t=${NOW}`,
      `t=${NOW},v1=${'0'.repeat(63)}`,
      `t=x,v1=${'0'.repeat(64)}`,
    ])
      expect(verifySignature(BODY, bad, SECRET, 300, NOW), String(bad)).toBe(false);
  });

  it('tries every v1 in the header', () => {
    expect(
      verifySignature(BODY, `t=${NOW},v1=${'0'.repeat(64)},${header.split(',')[1]}`, SECRET, 300, NOW),
    ).toBe(true);
  });
});

describe('the verification snippet of docs/api.md', () => {
  it('runs with node:crypto only and agrees with the signer', async () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Verifying a delivery'));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(snippet).toContain("from 'node:crypto'");
    expect(snippet?.match(/from '([^']+)'/g)).toEqual(["from 'node:crypto'"]);
    const dir = mkdtempSync(join(tmpdir(), 'rf-snippet-'));
    try {
      const file = join(dir, 'verify.mjs');
      writeFileSync(file, snippet ?? '');
      const { verifyRechargeflowSignature } = (await import(pathToFileURL(file).href)) as {
        verifyRechargeflowSignature: (body: string | Buffer, header: string, secret: string) => boolean;
      };
      const now = signatureHeader(BODY, SECRET, Date.now() / 1000);
      expect(verifyRechargeflowSignature(Buffer.from(BODY), now, SECRET)).toBe(true);
      expect(verifyRechargeflowSignature(BODY, now, 'whsec_other')).toBe(false);
      expect(verifyRechargeflowSignature(`${BODY}x`, now, SECRET)).toBe(false);
      expect(
        verifyRechargeflowSignature(BODY, signatureHeader(BODY, SECRET, Date.now() / 1000 - 600), SECRET),
      ).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ids and secrets', () => {
  it('are derived: the same inputs give the same id, any other input another', () => {
    expect(orderEventId('shop', 'o-1', 3)).toMatch(/^evt_[a-f0-9]{32}$/);
    expect(orderEventId('shop', 'o-1', 3)).toBe(orderEventId('shop', 'o-1', 3));
    expect(orderEventId('shop', 'o-1', 4)).not.toBe(orderEventId('shop', 'o-1', 3));
    expect(orderEventId('sho', 'po-1', 3)).not.toBe(orderEventId('shop', 'o-1', 3));
    expect(batchEventId('shop', 'b_12345678')).toMatch(/^evt_[a-f0-9]{32}$/);
    expect(batchEventId('shop', 'b_12345678')).not.toBe(batchEventId('other', 'b_12345678'));
    const event = orderEventId('shop', 'o-1', 3);
    expect(deliveryId(event, 'we_1')).toMatch(/^wd_[a-f0-9]{32}$/);
    expect(deliveryId(event, 'we_1')).toBe(deliveryId(event, 'we_1'));
    expect(deliveryId(event, 'we_2')).not.toBe(deliveryId(event, 'we_1'));
  });

  it('an endpoint secret is whsec_ + base64url(HMAC-SHA256(signing key, endpoint id))', () => {
    const key = 'k'.repeat(32);
    expect(endpointSecret(key, 'we_1')).toBe(
      `whsec_${createHmac('sha256', key).update('we_1').digest('base64url')}`,
    );
    expect(endpointSecret(key, 'we_2')).not.toBe(endpointSecret(key, 'we_1'));
    expect(endpointSecret(`${key}x`, 'we_1')).not.toBe(endpointSecret(key, 'we_1'));
  });
});
