import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Order } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createClusterConnection, waitForRedis } from '@rechargeflow/queue';
import {
  checkSimulatorBooks,
  deleteByPrefix,
  installed,
  type RunningPart,
  runCommand,
  startApp,
  startProcess,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The queue side on a real Redis Cluster: 3 masters + 3 replicas from Debian's redis-server on
// loopback (made with `redis-cli --cluster create`), the Redis ledger on a separate redis-server
// with appendonly yes / appendfsync always, and the simulator (A1Topup and Telgoo5), the API, two
// workers and the poller as real processes; REDIS_URL points nowhere, so only the role variables
// can have been used. Orders of both providers flow; then the master holding the
// `recharges-a1topup` queue is killed (SIGKILL) while orders keep arriving, its replica is
// promoted by the cluster itself (cluster-node-timeout 3 s), and processing resumes. Ends with the
// books check: every accepted order final, each charged once, nothing sent twice.
const NODE_TIMEOUT_MS = 3_000;
const BEFORE = 120; // orders carried through before the failure
const DURING = 180; // orders submitted while the master dies and its replica takes over
const T5_EVERY = 3; // every third order is a Telgoo5 top-up, the rest A1Topup recharges
const PREFIX = 'rfc';
const KEY = `cluster-key-${randomUUID()}`;
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

interface RedisNode {
  readonly port: number;
  readonly part: RunningPart;
}

const dirs: string[] = [];
const servers: RedisNode[] = [];
const parts: RunningPart[] = [];
let ledgerRedis: Redis;
let ledger: LedgerStore;
let api = '';
let sim = '';
let clusterPorts: number[] = [];
let pollerMetrics = '';

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * `n` free ports whose cluster bus port (port + 10000) is free too, both below Linux's ephemeral range
 * (32768 up), so no outgoing connection of another test takes one meanwhile.
 */
async function pickPorts(n: number): Promise<number[]> {
  const picked: number[] = [];
  while (picked.length < n) {
    const port = 15_000 + Math.floor(Math.random() * 7_500);
    const taken = picked.flatMap((p) => [p, p + 10_000]);
    if (taken.includes(port) || taken.includes(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) picked.push(port);
  }
  return picked;
}

function startRedis(port: number, args: readonly string[]): RedisNode {
  const dir = mkdtempSync(join(tmpdir(), `rf-cluster-${port}-`));
  dirs.push(dir);
  const part = startProcess({
    label: `redis-${port}`,
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args],
    stdout: 'ignore',
  });
  const node = { port, part };
  servers.push(node);
  return node;
}

/** A plain connection to one node (never a cluster client): for admin commands. */
async function admin<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

interface ClusterNodeLine {
  readonly id: string;
  readonly port: number;
  readonly master: boolean;
  readonly failed: boolean;
  readonly masterId: string;
  readonly slots: readonly [number, number][];
}

async function clusterNodes(port: number): Promise<ClusterNodeLine[]> {
  const text = (await admin(port, (r) => r.call('CLUSTER', 'NODES'))) as string;
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', addr = '', flags = '', masterId = '', , , , , ...slots] = line.split(' ');
      return {
        id,
        port: Number(addr.split('@')[0]?.split(':')[1]),
        master: flags.includes('master'),
        failed: flags.includes('fail'),
        masterId,
        slots: slots
          .filter((s) => /^\d/.test(s))
          .map((s) => {
            const [from, to] = s.split('-').map(Number);
            return [from ?? 0, to ?? from ?? 0] as [number, number];
          }),
      };
    });
}

function ownerOf(nodes: readonly ClusterNodeLine[], slot: number): ClusterNodeLine | undefined {
  return nodes.find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
}

/** RF_CLUSTER_LOGS=<dir>: each part's log lines go to <dir>/<part>.log, kept for a look afterwards. */
function logTo(name: string): { stdout?: { file: string } } {
  const dir = process.env.RF_CLUSTER_LOGS;
  if (!dir) return {};
  mkdirSync(dir, { recursive: true });
  return { stdout: { file: join(dir, `${name}.log`) } };
}

const isT5 = (i: number) => i % T5_EVERY === 0;
const orderId = (i: number) => `c-${i}`;
const mdn = (i: number) => String(2_065_000_000 + i);

function body(i: number): Record<string, unknown> {
  return isT5(i)
    ? {
        orderId: orderId(i),
        operator: 'TELGOO5',
        number: mdn(i),
        amount: 12,
        telgoo5: {
          enrollmentId: 'AGKN4441',
          planCode: '12',
          topupType: 'ADDON',
          paymentToken: `pm_cluster${i}`,
          billingState: 'WA',
          billingCity: 'Seattle',
        },
      }
    : {
        orderId: orderId(i),
        operator: 'A',
        circle: '5',
        number: String(9_800_000_000 + i),
        amount: 10 + (i % 4) * 10,
      };
}

/** Submits until the API accepts (202, or 200 for a repeat); answers how many tries were refused. */
async function submit(i: number): Promise<number> {
  let refused = 0;
  for (const until = Date.now() + 60_000; Date.now() < until; ) {
    try {
      const res = await fetch(`${api}/v1/recharges`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body(i)),
      });
      await res.arrayBuffer();
      if (res.status === 202 || res.status === 200) return refused;
      // 503 while the rate limit's or the queue's node is away; anything else is a defect.
      expect(res.status, `${orderId(i)}: ${res.status}`).toBe(503);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // fetch failed: connection refused or reset
    }
    refused += 1;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${orderId(i)} never accepted`);
}

async function submitAll(from: number, to: number, everyMs: number): Promise<number> {
  const tries: Promise<number>[] = [];
  for (let i = from; i < to; i++) {
    tries.push(submit(i));
    if (everyMs > 0) await new Promise((r) => setTimeout(r, everyMs));
  }
  return (await Promise.all(tries)).reduce((a, b) => a + b, 0);
}

const FINAL = new Set(['success', 'failed', 'manual_review', 'reversed']);

async function readOrders(count: number): Promise<Order[]> {
  const orders = await Promise.all(
    Array.from({ length: count }, (_, i) => ledger.getOrder({ clientId: 'shop', orderId: orderId(i) })),
  );
  return orders.filter((o): o is Order => o !== null);
}

/** Orders final among the first `count`; `provider`: only that provider's. */
async function finalCount(count: number, provider?: string): Promise<number> {
  return (await readOrders(count)).filter(
    (o) => FINAL.has(o.state) && (provider === undefined || o.provider === provider),
  ).length;
}

beforeAll(async () => {
  expect(
    installed('redis-server', ['--version']) && installed('redis-cli', ['--version']),
    'redis-server and redis-cli must be installed (apt-get install redis-server, which brings redis-tools)',
  ).toBe(true);
  const [ledgerPort = 0, simPort = 0, apiPort = 0, metricsPort = 0, ...ports] = await pickPorts(10);
  pollerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  clusterPorts = ports;
  for (const port of ports)
    startRedis(port, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      String(NODE_TIMEOUT_MS),
      // A replica takes over however long ago it last heard its master (the test kills it).
      '--cluster-replica-validity-factor',
      '0',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ]);
  // The ledger: one primary, every write on disk before it is answered.
  startRedis(ledgerPort, [
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
  ]);
  for (const port of [...ports, ledgerPort])
    await waitFor(`redis-server on ${port}`, () =>
      admin(port, async (r) => ((await r.ping()) === 'PONG' ? true : undefined)),
    );
  const created = runCommand(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeoutMs: 30_000 },
  );
  expect(created.ok, `${created.stdout}\n${created.stderr}`).toBe(true);
  await waitFor(
    'the cluster to be ok on every node, each replica linked',
    async () => {
      for (const port of ports) {
        const info = (await admin(port, (r) => r.call('CLUSTER', 'INFO'))) as string;
        if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:6/.test(info)) return undefined;
        const replication = await admin(port, (r) => r.info('replication'));
        if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return undefined;
      }
      return true;
    },
    30_000,
    200,
  );

  sim = `http://127.0.0.1:${simPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  const shared = {
    // Nothing listens there: every part must use the role variables below.
    REDIS_URL: 'redis://127.0.0.1:1',
    LEDGER_REDIS_URL: `redis://127.0.0.1:${ledgerPort}`,
    // Seeds: two nodes are enough, the client learns the rest.
    QUEUE_REDIS_CLUSTER_NODES: ports
      .slice(0, 2)
      .map((p) => `127.0.0.1:${p}`)
      .join(','),
    QUEUE_PREFIX: PREFIX,
    LEDGER_PREFIX: `${PREFIX}:ledger`,
    PROVIDERS: 'a1topup,telgoo5',
    A1TOPUP_USERNAME: 'cluster-user',
    A1TOPUP_PASSWORD: `a1-pw-${randomUUID()}`,
    TELGOO5_VENDOR_ID: 'cluster-vendor',
    TELGOO5_USERNAME: 'cluster-t5',
    TELGOO5_PASSWORD: `t5-pw-${randomUUID()}`,
    TELGOO5_PIN: '4826',
    TELGOO5_AGENT_ID: 'cluster-agent',
    API_KEYS: `shop:${KEY}`,
    RATE_LIMIT_PER_MINUTE: '1000000',
    PROVIDER_TIMEOUT_MS: '3000',
    PROVIDER_CONNECT_TIMEOUT_MS: '1000',
    STATUS_POLL_SCHEDULE: '2,2,3',
    SWEEP_INTERVAL_MS: '1000',
    STRANDED_AFTER_MS: '5000',
    PROCESSING_STUCK_AFTER_MS: '120000',
    // Longer than a failover, so a job whose lock renewal waits for the new master is not stalled.
    WORKER_LOCK_MS: '15000',
    SHUTDOWN_TIMEOUT_MS: '15000',
    SIM_LATENCY_MS: '30',
    SIM_INITIAL_BALANCE: '900000000',
  };
  const providerUrls = { A1TOPUP_BASE_URL: sim, TELGOO5_BASE_URL: `${sim}/telgoo5` };
  // The ledger Redis keeps an AOF: the parts start without ALLOW_LEDGER_WITHOUT_AOF.
  const noAllow = { allowLedgerWithoutAof: false };
  parts.push(
    startApp('simulator', { ...shared, SIMULATOR_PORT: String(simPort) }, 'sim', {
      ...noAllow,
      ...logTo('sim'),
    }),
  );
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(startApp('api', { ...shared, PORT: String(apiPort) }, 'api', { ...noAllow, ...logTo('api') }));
  const apiPart = parts.at(-1);
  await waitFor(
    'api ready',
    async () => {
      if (apiPart?.running() === false)
        throw new Error(`api exited:\n${apiPart.lines.slice(-10).join('\n')}`);
      return (await fetch(`${api}/readyz`)).ok ? true : undefined;
    },
    60_000,
    200,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${apiPart?.lines.slice(-10).join('\n')}`);
  });
  for (const name of ['worker-1', 'worker-2'])
    parts.push(
      startApp(
        'worker',
        { ...shared, ...providerUrls, A1TOPUP_CONCURRENCY: '8', TELGOO5_CONCURRENCY: '4' },
        name,
        { ...noAllow, ...logTo(name) },
      ),
    );
  parts.push(
    startApp('poller', { ...shared, ...providerUrls, METRICS_PORT: String(metricsPort) }, 'poller', {
      ...noAllow,
      ...logTo('poller'),
    }),
  );
  for (const part of parts.slice(2)) await part.waitForLine(/recharge worker running|poller running/, 60_000);
  ledgerRedis = new Redis(shared.LEDGER_REDIS_URL);
  ledger = createRedisLedgerStore({ redis: ledgerRedis, prefix: shared.LEDGER_PREFIX });
}, 90_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  ledgerRedis?.disconnect();
  await Promise.all(servers.map((s) => s.part.stop(5_000)));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the queue side on a 3-master Redis Cluster, the ledger on its own Redis', () => {
  it('carries A1Topup and Telgoo5 orders through a master failure: the replica takes over, processing resumes, nothing lost or sent twice', async () => {
    const worker = parts.find((p) => p.name === 'worker-1');
    const storageLine = await worker?.waitForLine(/"msg":"storage open"/);
    expect(storageLine).toMatch(/"queueRedis":"cluster \(127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\)"/);
    expect(await worker?.waitForLine(/ledger durability/)).toMatch(/"appendfsync":"always"/);

    // Each queue's keys hash by its name (one slot per queue), and the queues spread over the masters.
    const before = await clusterNodes(clusterPorts[0] ?? 0);
    const queues = ['recharges-a1topup', 'recharges-telgoo5', 'batches', 'callbacks', 'webhooks', 'poller'];
    const placement = new Map<string, number>();
    for (const queue of queues) {
      const slot = Number(
        await admin(clusterPorts[0] ?? 0, (r) => r.call('CLUSTER', 'KEYSLOT', `${PREFIX}:{${queue}}:x`)),
      );
      placement.set(queue, ownerOf(before, slot)?.port ?? 0);
      // The queue's keys really live there: its meta key is on the owner and nowhere else.
      const owner = placement.get(queue) ?? 0;
      const metaKeys = await admin(owner, (r) => r.keys(`${PREFIX}:{${queue}}:${queue}:*`));
      if (queue.startsWith('recharges') || queue === 'poller')
        expect(metaKeys.length, queue).toBeGreaterThan(0);
    }
    expect(new Set(placement.values()).size).toBeGreaterThanOrEqual(2);

    const t0 = Date.now();
    expect(await submitAll(0, BEFORE, 0)).toBe(0);
    await waitFor(
      'the first orders to settle',
      async () => ((await finalCount(BEFORE)) === BEFORE ? true : undefined),
      60_000,
      250,
    );
    const beforeSeconds = (Date.now() - t0) / 1000;

    // Kill the master holding recharges-a1topup mid-stream; its replica must take over.
    const victimPort = placement.get('recharges-a1topup') ?? 0;
    const victim = before.find((n) => n.port === victimPort);
    const replica = before.find((n) => !n.master && n.masterId === victim?.id);
    expect(victim && replica, 'the victim master and its replica').toBeTruthy();
    const alsoOnVictim = [...placement].filter(([, port]) => port === victimPort).map(([q]) => q);
    const submitting = submitAll(BEFORE, BEFORE + DURING, 25);
    await new Promise((r) => setTimeout(r, 1_500));
    const finalAtKill = await finalCount(BEFORE + DURING);
    const killedAt = Date.now();
    servers.find((s) => s.port === victimPort)?.part.kill('SIGKILL');
    await waitFor(
      'the replica to be promoted and the cluster ok',
      async () => {
        const role = (await admin(replica?.port ?? 0, (r) => r.call('ROLE'))) as [string];
        const info = (await admin(replica?.port ?? 0, (r) => r.call('CLUSTER', 'INFO'))) as string;
        return role[0] === 'master' && /cluster_state:ok/.test(info) ? true : undefined;
      },
      30_000,
      50,
    );
    const failoverMs = Date.now() - killedAt;
    const a1AtPromotion = await finalCount(BEFORE + DURING, 'a1topup');
    // Processing resumes: A1Topup orders (their queue on the killed master) reach a final state again.
    await waitFor(
      'processing to resume after the failover',
      async () => ((await finalCount(BEFORE + DURING, 'a1topup')) > a1AtPromotion ? true : undefined),
      30_000,
      100,
    );
    const resumedMs = Date.now() - killedAt;
    const refused = await submitting;
    // Accepted while their queue's master was away: answered 202 from the ledger, queued later by the sweep.
    const enqueuedLater = parts
      .find((p) => p.name === 'api')
      ?.lines.filter((l) => l.includes('its job could not be added yet')).length;

    const total = BEFORE + DURING;
    const orders = await waitFor(
      'every order final',
      async () => {
        const all = await readOrders(total);
        return all.length === total && all.every((o) => FINAL.has(o.state)) ? all : undefined;
      },
      60_000,
      500,
    ).catch(async (error: unknown) => {
      const all = await readOrders(total);
      const open = all.filter((o) => !FINAL.has(o.state)).slice(0, 5);
      throw new Error(
        `${String(error)}: ${all.length}/${total} in the ledger; not final: ${open.map((o) => `${o.orderId} ${o.provider} ${o.state} ${o.history.map((h) => h.to).join('>')}`).join('; ')}`,
      );
    });
    // Lost: accepted but missing or not final. None may be.
    const lost = total - orders.filter((o) => FINAL.has(o.state)).length;
    expect(lost).toBe(0);

    // The books: A1Topup's record of every orderid against the ledger...
    const a1Orders = orders.filter((o) => o.provider === 'a1topup');
    const { verdict } = await checkSimulatorBooks({ simulators: { a1topup: sim }, orders: a1Orders, ledger });
    expect(verdict.problems).toEqual([]);
    // ...and Telgoo5's applied top-ups (one MDN per order): a success exactly once, anything else never.
    const t5Orders = orders.filter((o) => o.provider === 'telgoo5');
    expect(t5Orders.length + a1Orders.length).toBe(total);
    const topups = (await (await fetch(`${sim}/_sim/telgoo5/topups`)).json()) as {
      topups: { mdn: string }[];
    };
    const applied = new Map<string, number>();
    for (const t of topups.topups) applied.set(t.mdn, (applied.get(t.mdn) ?? 0) + 1);
    const t5Wrong = t5Orders.filter((o) => {
      const n = applied.get(o.request.number) ?? 0;
      return o.state === 'success' ? n !== 1 : o.state === 'manual_review' ? n > 1 : n !== 0;
    });
    expect(
      t5Wrong.map((o) => `${o.orderId} ${o.state} applied ${applied.get(o.request.number) ?? 0}`),
    ).toEqual([]);
    const twice =
      verdict.sentTwice.length +
      verdict.chargedTwice.length +
      [...applied.values()].filter((n) => n > 1).length;
    expect(twice).toBe(0);
    // Every order succeeds: the failover cost time, not outcomes.
    const states: Record<string, number> = {};
    for (const o of orders)
      states[`${o.provider} ${o.state}`] = (states[`${o.provider} ${o.state}`] ?? 0) + 1;
    expect(
      orders
        .filter((o) => o.state !== 'success')
        .map((o) => `${o.orderId} ${o.state}: ${o.history.at(-1)?.note}`),
    ).toEqual([]);

    // The queue gauges (what an autoscaler reads) work on the cluster: jobs by state, both workers seen.
    const metrics = await (await fetch(pollerMetrics)).text();
    expect(metrics).toMatch(/^rechargeflow_queue_jobs\{queue="recharges-telgoo5",state="waiting"[^}]*\} 0$/m);
    expect(metrics).toMatch(/^rechargeflow_queue_workers\{queue="recharges-a1topup"[^}]*\} 2$/m);

    console.log(
      [
        `redis cluster: ${total} orders (${a1Orders.length} a1topup, ${t5Orders.length} telgoo5) over 3 masters + 3 replicas, ledger on its own Redis (AOF always)`,
        `  queues by master port: ${[...placement].map(([q, p]) => `${q}@${p}`).join(', ')}`,
        `  first ${BEFORE} orders final in ${beforeSeconds.toFixed(1)} s; killed master ${victimPort} (${alsoOnVictim.join(', ')}) with ${finalAtKill}/${total} final`,
        `  failover: replica ${replica?.port} master after ${failoverMs} ms; processing resumed ${resumedMs} ms after the kill; ${refused} submissions refused (503) and retried; ${enqueuedLater} accepted without their job, queued by the recovery sweep`,
        `  states: ${JSON.stringify(states)}; lost ${lost}, sent twice ${twice}; books: ${verdict.received} orderids, ${verdict.charges} charges; telgoo5 top-ups ${topups.topups.length}`,
      ].join('\n'),
    );

    // Every part stops cleanly, the dead master notwithstanding; then the keys go as `npm start
    // -- --fresh` deletes them on a cluster: scanned master by master, one key per command.
    const codes = await Promise.all(parts.map((p) => p.stop()));
    expect(codes).toEqual(parts.map(() => 0));
    const cluster = createClusterConnection(
      { nodes: [{ host: '127.0.0.1', port: replica?.port ?? 0 }], tls: false },
      'producer',
      'cluster-test',
    );
    try {
      await waitForRedis(cluster, 10_000);
      const perMaster = async () =>
        Promise.all(cluster.nodes('master').map(async (node) => (await node.keys(`${PREFIX}:*`)).length));
      const keysBefore = await perMaster();
      expect(keysBefore.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      expect(await deleteByPrefix(cluster, `${PREFIX}:`)).toBe(keysBefore.reduce((a, b) => a + b, 0));
      expect(await perMaster()).toEqual(keysBefore.map(() => 0));
    } finally {
      cluster.disconnect();
    }
  }, 180_000);
});
