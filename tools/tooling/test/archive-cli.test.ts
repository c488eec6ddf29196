import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import { createRedisLedgerStore, runRetention } from '@rechargeflow/ledger';
import { deleteByPrefix, REPO_ROOT, runCommand } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** `npm run archive -- find|verify|reindex` over an archive a real retention run wrote. */

const CLI = resolve(REPO_ROOT, 'tools/tooling/src/archive.ts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test:archive-cli:${randomUUID()}`;
const DAY_MS = 86_400_000;
const REQUEST = { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) };

let redis: Redis;
let dir: string;

function archive(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const { LEDGER_ARCHIVE_DIR: _ignored, ...rest } = process.env;
  return runCommand(process.execPath, [CLI, ...args], { env: { ...rest, ...env }, timeoutMs: 60_000 });
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  dir = mkdtempSync(join(tmpdir(), 'rf-archive-cli-'));
  const store = createRedisLedgerStore({ redis, prefix });
  await store.init();
  const at = new Date(Date.now() - 100 * DAY_MS).toISOString();
  for (const orderId of ['a-1', 'a-2', 'a-3']) {
    const key = { clientId: 'shop-1', orderId };
    await store.createOrder({
      ...key,
      providerOrderId: providerOrderId(key),
      provider: 'a1topup',
      request: REQUEST,
      fingerprint: requestFingerprint(REQUEST),
      now: at,
    });
    await store.transition(key, {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at, source: 'worker' },
    });
    await store.transition(key, {
      expect: { state: 'processing' },
      to: 'failed',
      entry: { at, source: 'worker' },
    });
  }
  expect((await runRetention(store, { dir, retentionMs: 90 * DAY_MS })).removed).toBe(3);
});

afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run archive', () => {
  it('finds an archived order by client and order id, from LEDGER_ARCHIVE_DIR or the directory given', () => {
    const found = archive(['find', 'shop-1', 'a-2'], { LEDGER_ARCHIVE_DIR: dir });
    expect(found.status).toBe(0);
    const printed = JSON.parse(found.stdout);
    expect(printed.order).toMatchObject({ clientId: 'shop-1', orderId: 'a-2', state: 'failed' });
    expect(printed.order.history).toHaveLength(3);
    expect(printed.file).toMatch(/^orders-\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-f]{6}-001\.jsonl\.gz$/);
    expect(archive(['find', 'shop-1', 'a-3', dir]).status).toBe(0);
    const missing = archive(['find', 'shop-1', 'nope', dir]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no archived order nope of client shop-1/);
    expect(archive(['find', 'shop-1', 'a-1']).stderr).toMatch(/no archive directory/);
    expect(archive(['find', 'shop-1', 'a-1']).status).toBe(2);
  });

  it('verifies every archived order, rebuilds the index, and names a damaged file', () => {
    const ok = archive(['verify', dir]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/3 copies of 3 orders/);
    expect(ok.stdout).toMatch(/ok: every archived order reads back/);
    rmSync(join(dir, 'index'), { recursive: true });
    expect(archive(['verify', dir]).stdout).toMatch(
      /not in the lookup index: 3 \(run: npm run archive -- reindex\)/,
    );
    const reindexed = archive(['reindex', dir]);
    expect(reindexed.stdout).toMatch(/indexed 3 archived copies/);
    expect(archive(['find', 'shop-1', 'a-1', dir]).status).toBe(0);

    const file = readdirSync(dir).find((name) => name.endsWith('.jsonl.gz')) ?? '';
    const bytes = readFileSync(join(dir, file));
    writeFileSync(join(dir, file), bytes.subarray(0, bytes.length - 12));
    const damaged = archive(['verify', dir]);
    expect(damaged.status).toBe(1);
    expect(damaged.stdout).toMatch(new RegExp(`PROBLEM ${file}: unreadable`));
    expect(archive(['frobnicate']).status).toBe(2);
  });
});
