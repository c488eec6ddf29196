import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deleteByPrefix,
  freePort,
  installed,
  type RunningPart,
  startApp,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { type Browser, launch, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The API's own description as a person meets it (issue 15): the real API process serves /docs,
// headless Chromium (Debian's `chromium`, driven by puppeteer-core; no browser download) runs its
// JavaScript, and the page must show every route under its tag; the example bodies of the served
// OpenAPI document, sent unchanged, must answer 202 (and, with a worker, be accepted row by row).

/** Chromium's binary: CHROMIUM_PATH, else Debian's (the launcher script or the binary behind it). */
function findChromium(): string | undefined {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/lib/chromium/chromium',
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  return candidates.find(
    (path): path is string => !!path && existsSync(path) && installed(path, ['--version']),
  );
}

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.log('/docs browser check: SKIPPED (chromium not installed; apt-get install chromium)');
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const PREFIX = `rf-test-docs-${run}`;
// Order ids are per client: the fetch checks and the browser's "Try it out" each send the example
// unchanged under their own client, so each gets a new order (202), not the repeat answer (200).
const SHOP_KEY = `docs-shop-${randomUUID()}`;
const BROWSER_KEY = `docs-browser-${randomUUID()}`;
const env = {
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  LEDGER_PREFIX: `${PREFIX}:ledger`,
  A1TOPUP_USERNAME: 'docs-user',
  A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
};
const parts: RunningPart[] = [];
let api = '';

type Operation = {
  tags?: string[];
  requestBody?: { content: Record<string, { example?: unknown }> };
};
type OpenApi = { tags?: { name: string }[]; paths: Record<string, Record<string, Operation>> };
let spec: OpenApi;

/** The little of the DOM the page checks read (this package's TypeScript has no DOM library). */
type DomNode = {
  readonly textContent: string | null;
  readonly value?: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): Iterable<DomNode>;
};

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/** "METHOD /path" of every operation, by tag, as the served document groups them. */
function operationsByTag(doc: OpenApi): Map<string, string[]> {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) {
      if (!HTTP_METHODS.has(method)) continue;
      for (const tag of op.tags ?? ['default']) {
        byTag.set(tag, [...(byTag.get(tag) ?? []), `${method.toUpperCase()} ${path}`]);
      }
    }
  return byTag;
}

beforeAll(async () => {
  const [simPort, apiPort] = [await freePort(), await freePort()];
  const sim = `http://127.0.0.1:${simPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  parts.push(startApp('simulator', { ...env, SIMULATOR_PORT: String(simPort) }));
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(
    startApp('api', {
      ...env,
      PORT: String(apiPort),
      API_KEYS: `shop:${SHOP_KEY},browser:${BROWSER_KEY}`,
    }),
  );
  parts.push(startApp('worker', { ...env, A1TOPUP_BASE_URL: sim, PROVIDER_TIMEOUT_MS: '1500' }));
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined));
  await parts[2]?.waitForLine(/recharge worker running/);
  const res = await fetch(`${api}/docs/json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as OpenApi;
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  await deleteByPrefix(redis, PREFIX);
  await redis.quit();
  expect(codes).toEqual(parts.map(() => 0));
});

function requestExample(path: string, mediaType: string): unknown {
  const example = spec.paths[path]?.post?.requestBody?.content[mediaType]?.example;
  expect(example, `example of POST ${path} (${mediaType})`).toBeDefined();
  return example;
}

describe("the served document's examples, sent as is to the real API", () => {
  it('POST /v1/recharges: its JSON example answers 202 and the order succeeds', async () => {
    const example = requestExample('/v1/recharges', 'application/json');
    const headers = { authorization: `Bearer ${SHOP_KEY}`, 'content-type': 'application/json' };
    const res = await fetch(`${api}/v1/recharges`, {
      method: 'POST',
      headers,
      body: JSON.stringify(example),
    });
    const body = (await res.json()) as { orderId: string; status: string };
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body.status).toBe('queued');
    const order = await waitFor(`${body.orderId} final`, async () => {
      const got = (await (await fetch(`${api}/v1/recharges/${body.orderId}`, { headers })).json()) as {
        status: string;
      };
      return ['success', 'failed', 'manual_review'].includes(got.status) ? got : undefined;
    });
    expect(order.status).toBe('success');
  });

  it('POST /v1/batches: its CSV example answers 202 and every row is accepted', async () => {
    const csv = requestExample('/v1/batches', 'text/csv');
    expect(typeof csv).toBe('string');
    const headers = { authorization: `Bearer ${SHOP_KEY}` };
    const res = await fetch(`${api}/v1/batches`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/csv' },
      body: String(csv),
    });
    const body = (await res.json()) as { batchId: string };
    expect(res.status, JSON.stringify(body)).toBe(202);
    const rows = String(csv).trim().split('\n').length - 1;
    const batch = await waitFor(`batch ${body.batchId} read`, async () => {
      const got = (await (await fetch(`${api}/v1/batches/${body.batchId}`, { headers })).json()) as {
        state: string;
        rows: { read: number; accepted: number; rejected: number };
      };
      return got.rows.read === rows && got.state !== 'importing' ? got : undefined;
    });
    expect(batch.rows).toMatchObject({ read: rows, accepted: rows, rejected: 0 });
  });
});

describe.skipIf(!CHROMIUM)('/docs in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let shots = '';

  beforeAll(async () => {
    // DOCS_SCREENSHOT_DIR keeps the screenshots (docs.png, try-it-out.png) for a person to look at.
    shots = process.env.DOCS_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'rf-docs-'));
    browser = await launch({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium refuses its sandbox as root (CI runs as root); the page is our own, on loopback.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  afterAll(async () => {
    await browser?.close();
    if (!process.env.DOCS_SCREENSHOT_DIR && shots) rmSync(shots, { recursive: true, force: true });
  });

  it('renders every route under its tag, as the served document groups them', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`${api}/docs`, { waitUntil: 'networkidle0' });
    const expected = operationsByTag(spec);
    // Every tag the document declares must group at least one route (else /docs hides it), and no
    // route may be left untagged (Swagger UI's "default" list).
    for (const { name } of spec.tags ?? []) expect(expected.get(name), `tag ${name}`).toBeDefined();
    expect(expected.has('default')).toBe(false);
    await waitFor('the tag sections', async () =>
      (await page.$$('.opblock-tag-section')).length >= expected.size ? true : undefined,
    );
    // What the page shows after its JavaScript ran: each tag section's heading and its routes.
    const rendered = await page.$$eval('.opblock-tag-section', (sections: DomNode[]) =>
      sections.map((section) => ({
        tag: section.querySelector('.opblock-tag')?.getAttribute('data-tag') ?? '',
        heading: section.querySelector('.opblock-tag')?.textContent ?? '',
        routes: [...section.querySelectorAll('.opblock')].map(
          (op) =>
            `${op.querySelector('.opblock-summary-method')?.textContent ?? ''} ${
              op.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''
            }`,
        ),
      })),
    );
    expect(rendered.map((s) => s.tag).sort()).toEqual([...expected.keys()].sort());
    for (const section of rendered) {
      expect(section.heading, section.tag).toContain(section.tag);
      expect(section.routes.sort(), section.tag).toEqual([...(expected.get(section.tag) ?? [])].sort());
    }
    // Shown, not only in the DOM: every tag heading and every route's path is visible.
    for (const selector of ['.opblock-tag', '.opblock-summary-path'])
      for (const element of await page.$$(selector)) expect(await element.isVisible(), selector).toBe(true);
    const title = await page.$eval('.info .title', (el: DomNode) => el.textContent ?? '');
    expect(title).toContain('Rechargeflow ingest API');
    expect(await page.$('.errors-wrapper')).toBeNull();
    expect(errors).toEqual([]);
    // Seen as a person sees it: a full-page screenshot, not blank.
    const shot = join(shots, 'docs.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).length).toBeGreaterThan(50_000);
  }, 60_000);

  it('"Try it out" sends the recharge example unchanged and shows 202', async () => {
    await page.goto(`${api}/docs`, { waitUntil: 'networkidle0' });
    // Authorize with the bearer key, as a reader of the page would.
    await page.locator('.auth-wrapper .authorize').click();
    await page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').fill(BROWSER_KEY);
    await page.locator('.modal-ux .auth-btn-wrapper button[type=submit]').click();
    await page.locator('.modal-ux .btn-done').click();
    const operation = '.opblock-post:has(.opblock-summary-path[data-path="/v1/recharges"])';
    await page.locator(`${operation} .opblock-summary-control`).click();
    await page.locator(`${operation} .try-out__btn`).click();
    const sent = await page.$eval(`${operation} textarea.body-param__text`, (el: DomNode) => el.value ?? '');
    expect(JSON.parse(sent)).toEqual(requestExample('/v1/recharges', 'application/json'));
    await page.locator(`${operation} .execute`).click();
    const status = await page
      .locator(`${operation} .live-responses-table tbody .response-col_status`)
      .map((el: DomNode) => (el.textContent ?? '').trim())
      .wait();
    await (await page.$(operation))?.screenshot({ path: join(shots, 'try-it-out.png') });
    expect(status).toBe('202');
  }, 60_000);
});
