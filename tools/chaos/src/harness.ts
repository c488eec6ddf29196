/**
 * Shared harness of the chaos suite (`npm run chaos`, tools/chaos/src/run.ts): starts the whole
 * system as real processes (simulator, ingest API, workers, poller) on its own key prefix, submits
 * orders through the real API, waits for them to settle, reads the ledger straight from Redis,
 * counts what the simulated providers received, and removes every key it made afterwards.
 * Every process (the parts, a private redis-server) is started by the testkit's launcher.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Order, OrderState } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import {
  type AppName,
  type BookLine,
  checkBooks,
  deleteByPrefix,
  freePort,
  type RunningPart,
  readBooks,
  startApp,
  startProcess,
  TcpProxy,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';

export { checkBooks, deleteByPrefix, freePort, TcpProxy, waitFor };

/** One read of the environment (the suite is no Turborepo task; nothing of it is cached). */
export const ENV: Readonly<Record<string, string | undefined>> = { ...process.env };
export const SHARED_REDIS_URL = ENV.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CLIENT = 'chaos-shop';
export const OPERATOR = 'chaos-ops';
const IN_PROGRESS: readonly OrderState[] = ['queued', 'processing', 'pending'];

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** A random secret of `bytes` bytes, base64url, with a recognisable prefix. */
export function secret(prefix: string, bytes = 18): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Runs `task` over `items`, at most `limit` at a time; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** What a scenario hands back: pass or fail, one line for the PASS/FAIL line, its figures. */
export interface ScenarioResult {
  readonly pass: boolean;
  readonly summary: string;
  readonly figures: Readonly<Record<string, string | number | boolean>>;
  /** Each failed check, in words. */
  readonly problems: readonly string[];
}

/** What the runner gives a scenario. */
export interface ScenarioContext {
  /** 1 for the full suite; smaller (CHAOS_SCALE=0.1) while developing. */
  readonly scale: number;
  /** Wall-clock deadline (ms since epoch) the scenario must finish by. */
  readonly deadline: number;
  readonly say: (line: string) => void;
  /** Registered clean-ups run when the scenario ends, also after a timeout (last first). */
  readonly onCleanup: (task: () => Promise<unknown>) => void;
  /** Scales a count (at least `min`). */
  readonly sized: (full: number, min?: number) => number;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Longest the scenario may run at scale 1 before it counts as failed. */
  readonly budgetMs: number;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** Collects checks; `result` turns them into a ScenarioResult. */
export class Checks {
  readonly problems: string[] = [];
  readonly figures: Record<string, string | number | boolean> = {};

  expect(ok: boolean, problem: string): boolean {
    if (!ok) this.problems.push(problem);
    return ok;
  }

  figure(name: string, value: string | number | boolean): void {
    this.figures[name] = value;
  }

  result(summary: string): ScenarioResult {
    return {
      pass: this.problems.length === 0,
      summary: this.problems.length === 0 ? summary : `${this.problems.join('; ')} (${summary})`,
      figures: this.figures,
      problems: this.problems,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// A private redis-server (the Redis-restart scenario): AOF on, nothing evicted, own dir and port.

export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'rf-chaos-redis-'));
  #part: RunningPart | undefined;
  starts = 0;

  readonly port: number;
  readonly fsync: 'always' | 'everysec';

  constructor(port: number, fsync: 'always' | 'everysec' = 'always') {
    this.port = port;
    this.fsync = fsync;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // `--save ''`: no RDB snapshots; the AOF alone carries the data across the restart.
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      this.fsync,
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      '--protected-mode',
      'yes',
    ];
    this.#part = startProcess({
      label: `redis-server-${this.port}`,
      command: 'redis-server',
      args,
      stdout: 'ignore',
      stderr: 'capture',
      keepLines: 50,
    });
    this.starts += 1;
    await waitFor(
      `redis-server on ${this.port}`,
      async () => ((await ping(this.port)) ? true : undefined),
      15_000,
      50,
    );
  }

  /** SIGTERM: Redis finishes the AOF (fsync) and exits; resolves when the process has gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const part = this.#part;
    if (!part?.running()) return part?.child.exitCode ?? null;
    part.kill(signal);
    return part.exited;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

// ---------------------------------------------------------------------------------------------
// The system under test.

export interface SystemOptions {
  /** Names the key prefix: `rfc-<name>-<random>`. */
  readonly name: string;
  readonly redisUrl?: string;
  readonly workers: number;
  readonly pollers?: number;
  /**
   * Default `a1topup`. With `a1topup_backup`, a second simulator (`simulator-backup`) plays the
   * backup provider, with the same credentials and callback URL.
   */
  readonly providers?: readonly ('a1topup' | 'a1topup_backup' | 'telgoo5')[];
  /** Workers and pollers reach the simulator through a TcpProxy the scenario can take down. */
  readonly proxy?: boolean;
  /** The simulator sends callbacks to the API (`SIM_CALLBACK_URL`). */
  readonly callbacks?: boolean;
  /** Every part (after the defaults). */
  readonly env?: Record<string, string>;
  readonly simEnv?: Record<string, string>;
  /** The backup's simulator only (`simEnv` is the first simulator's). */
  readonly backupSimEnv?: Record<string, string>;
  readonly apiEnv?: Record<string, string>;
  readonly workerEnv?: Record<string, string>;
  readonly pollerEnv?: Record<string, string>;
}

interface Tracked {
  readonly part: RunningPart;
  /** Killed or stopped on purpose: its exit is not a crash. */
  expected: boolean;
}

export interface Secrets {
  readonly a1Password: string;
  readonly t5Password: string;
  readonly t5Pin: string;
  readonly apiKey: string;
  readonly operatorKey: string;
  readonly callbackToken: string;
}

export interface PostAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface SimOrder {
  readonly submissions: number;
  readonly status: 'success' | 'failed' | 'pending';
  readonly behaviour: string;
}

export interface SimStats {
  readonly orders: number;
  readonly submissions: number;
  readonly duplicates: number;
  readonly byStatus: Record<string, number>;
  readonly requests: Record<string, number>;
  readonly callbacks: { sent: number; delivered: number; failed: number };
  /** TCP connections the simulator accepted (through the proxy: one per client connection). */
  readonly connections: number;
  /** Connections that carried at least one recharge. */
  readonly rechargeConnections: number;
  /** Orders whose answer's callback (SIM_ANSWER_CALLBACK) went before / after the answer. */
  readonly answerCallbacks: { before: number; after: number };
}

/** One line of a simulator's books (`GET /_sim/orders`). */
export interface SimBookEntry extends BookLine {
  readonly amount: string;
  readonly status: 'success' | 'failed' | 'pending';
  readonly reversed: boolean;
  readonly behaviour: string;
  readonly answerCallback?: 'before' | 'after';
}

/** Every system started in this process, so the runner can keep the logs of a failed scenario. */
export const SYSTEMS: System[] = [];

export class System {
  readonly prefix: string;
  readonly ledgerPrefix: string;
  readonly secrets: Secrets;
  readonly redisUrl: string;
  readonly env: Record<string, string>;
  readonly tracked: Tracked[] = [];
  readonly workers: (RunningPart | undefined)[] = [];
  api = '';
  sim = '';
  /** The backup provider's simulator (with `a1topup_backup`), else ''. */
  backupSim = '';
  proxy: TcpProxy | undefined;
  redis!: Redis;
  ledger!: LedgerStore;
  #generation = 0;
  #workerEnv: Record<string, string> = {};
  #stopped = false;

  readonly options: SystemOptions;

  constructor(options: SystemOptions) {
    this.options = options;
    SYSTEMS.push(this);
    this.prefix = `rfc-${options.name}-${randomBytes(3).toString('hex')}`;
    this.ledgerPrefix = `${this.prefix}:ledger`;
    this.redisUrl = options.redisUrl ?? SHARED_REDIS_URL;
    this.secrets = {
      a1Password: secret('a1pw-'),
      t5Password: secret('t5pw-'),
      t5Pin: secret('t5pin-', 9),
      apiKey: secret('shopkey-'),
      operatorKey: secret('opskey-'),
      callbackToken: secret('cbtok-'),
    };
    const providers = options.providers ?? ['a1topup'];
    this.env = {
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      LEDGER_PREFIX: this.ledgerPrefix,
      LOG_LEVEL: 'info',
      PROVIDERS: providers.join(','),
      A1TOPUP_USERNAME: 'chaos-user',
      A1TOPUP_PASSWORD: this.secrets.a1Password,
      TELGOO5_VENDOR_ID: 'chaos-vendor',
      TELGOO5_USERNAME: 'chaos-t5-user',
      TELGOO5_PASSWORD: this.secrets.t5Password,
      TELGOO5_PIN: this.secrets.t5Pin,
      TELGOO5_AGENT_ID: 'chaos-agent',
      API_KEYS: `${CLIENT}:${this.secrets.apiKey},${OPERATOR}:${this.secrets.operatorKey}:operator`,
      CALLBACK_TOKEN: this.secrets.callbackToken,
      RATE_LIMIT_PER_MINUTE: '1000000',
      CALLBACK_RATE_LIMIT_PER_MINUTE: '1000000',
      PROVIDER_TIMEOUT_MS: '3000',
      PROVIDER_CONNECT_TIMEOUT_MS: '1000',
      STATUS_POLL_SCHEDULE: '2,2,3',
      SWEEP_INTERVAL_MS: '1000',
      NOT_FOUND_GRACE: '5s',
      STRANDED_AFTER_MS: '20000',
      // The poller refuses a stuck time not longer than the longest recharge call plus 30 s: A1Topup
      // is one timeout (3 s here, 8 s at most in a scenario); Telgoo5 4 × (10 s token wait + 3 × 3 s).
      PROCESSING_STUCK_AFTER_MS: providers.includes('telgoo5') ? '120000' : '40000',
      BALANCE_SAMPLE_INTERVAL_MS: '5000',
      WORKER_LOCK_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: '15000',
      SIM_INITIAL_BALANCE: '900000000',
      // Restarted workers start in half the CPU time with V8's code cache: a harness setting only.
      NODE_COMPILE_CACHE: ENV.NODE_COMPILE_CACHE ?? join(tmpdir(), 'rf-chaos-compile-cache'),
      ...options.env,
    };
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.secrets.apiKey}`, 'content-type': 'application/json' };
  }

  get operatorHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.secrets.operatorKey}`, 'content-type': 'application/json' };
  }

  /** Every process started so far, dead or alive, for log scanning. */
  get parts(): readonly RunningPart[] {
    return this.tracked.map((t) => t.part);
  }

  #start(app: AppName, env: Record<string, string>, label: string): RunningPart {
    const part = startApp(app, { ...this.env, ...env }, label);
    this.tracked.push({ part, expected: false });
    return part;
  }

  async start(): Promise<this> {
    const o = this.options;
    this.redis = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
    // Redis may be away on purpose (redis-restart): commands wait for the reconnect.
    this.redis.on('error', () => undefined);
    this.ledger = createRedisLedgerStore({ redis: this.redis, prefix: this.ledgerPrefix });
    const [simPort, apiPort] = [await freePort(), await freePort()];
    this.sim = `http://127.0.0.1:${simPort}`;
    this.api = `http://127.0.0.1:${apiPort}`;
    this.#start(
      'simulator',
      {
        SIMULATOR_PORT: String(simPort),
        ...(o.callbacks
          ? { SIM_CALLBACK_URL: `${this.api}/callbacks/a1topup/${this.secrets.callbackToken}` }
          : {}),
        ...o.simEnv,
      },
      'simulator',
    );
    await waitFor('simulator', async () => ((await fetch(`${this.sim}/_sim/stats`)).ok ? true : undefined));
    const backup: Record<string, string> = {};
    if ((o.providers ?? []).includes('a1topup_backup')) {
      const backupPort = await freePort();
      this.backupSim = `http://127.0.0.1:${backupPort}`;
      this.#start(
        'simulator',
        {
          SIMULATOR_PORT: String(backupPort),
          ...(o.callbacks
            ? { SIM_CALLBACK_URL: `${this.api}/callbacks/a1topup/${this.secrets.callbackToken}` }
            : {}),
          ...o.backupSimEnv,
        },
        'simulator-backup',
      );
      await waitFor('backup simulator', async () =>
        (await fetch(`${this.backupSim}/_sim/stats`)).ok ? true : undefined,
      );
      Object.assign(backup, {
        A1TOPUP_BACKUP_BASE_URL: this.backupSim,
        A1TOPUP_BACKUP_USERNAME: this.env.A1TOPUP_USERNAME,
        A1TOPUP_BACKUP_PASSWORD: this.secrets.a1Password,
      });
    }
    let providerBase = this.sim;
    if (o.proxy) {
      this.proxy = new TcpProxy(simPort);
      await this.proxy.up();
      providerBase = this.proxy.url;
    }
    this.#workerEnv = {
      A1TOPUP_BASE_URL: providerBase,
      TELGOO5_BASE_URL: `${providerBase}/telgoo5`,
      ...backup,
    };
    this.#start('api', { PORT: String(apiPort), ...o.apiEnv }, 'api');
    const api = this.tracked.at(-1)!.part;
    await waitFor(
      'api ready',
      async () => {
        if (api.child.exitCode !== null)
          throw new Error(`api exited before it was ready:\n${api.lines.slice(-10).join('\n')}`);
        return (await fetch(`${this.api}/readyz`)).ok ? true : undefined;
      },
      30_000,
      200,
    );
    // The ledger is initialised by the API; the harness only reads it.
    const pollers = Array.from({ length: o.pollers ?? 1 }, (_, i) =>
      this.#start('poller', { ...this.#workerEnv, ...o.pollerEnv }, `poller-${i}`),
    );
    for (let i = 0; i < o.workers; i++) this.startWorker(i);
    await Promise.all([
      ...pollers.map((p) => ready(p, /poller running/)),
      ...this.workers.map((w) => (w ? ready(w, /recharge worker running/) : undefined)),
    ]);
    return this;
  }

  /** Starts worker `index` (a new process; the old one must be gone). */
  startWorker(index: number, extraEnv: Record<string, string> = {}): RunningPart {
    this.#generation += 1;
    const part = this.#start(
      'worker',
      { ...this.#workerEnv, ...this.options.workerEnv, ...extraEnv },
      `worker-${index}.${this.#generation}`,
    );
    this.workers[index] = part;
    return part;
  }

  /** CPU seconds used by each kind of part so far (Linux /proc; killed parts counted up to their kill). */
  cpuSeconds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { part } of this.tracked) {
      const seconds = part.cpuSeconds();
      if (seconds === 0) continue;
      const kind = part.name.replace(/[-.].*$/, '');
      out[kind] = round((out[kind] ?? 0) + seconds);
    }
    return out;
  }

  /** SIGKILLs worker `index` and waits for it to be gone. */
  async killWorker(index: number): Promise<void> {
    const part = this.workers[index];
    if (!part) return;
    part.cpuSeconds(); // the last reading before the kill
    const entry = this.tracked.find((t) => t.part === part);
    if (entry) entry.expected = true;
    part.kill('SIGKILL');
    await part.exited;
    this.workers[index] = undefined;
  }

  /** Parts that exited without being told to (crashes), as `label (code/signal)`. */
  crashed(): string[] {
    return this.tracked
      .filter((t) => !t.expected && !t.part.running())
      .map((t) => `${t.part.name} (${t.part.child.signalCode ?? `exit ${t.part.child.exitCode}`})`);
  }

  /** Parts running now. */
  alive(): RunningPart[] {
    return this.tracked.filter((t) => t.part.running()).map((t) => t.part);
  }

  async post(path: string, body: unknown, headers = this.headers): Promise<PostAnswer> {
    const res = await fetch(`${this.api}${path}`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed };
  }

  async getJson<T>(url: string, headers?: Record<string, string>, init: RequestInit = {}): Promise<T> {
    const res = await fetch(url, { ...init, ...(headers ? { headers } : {}) });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  /**
   * Submits every body through POST /v1/recharges, `concurrency` at a time. With `retry`, an
   * answer other than 2xx (or no answer) is repeated — safe, a repeat is the same order — until
   * accepted or `retryUntil`. Returns the accepted orderIds and how many tries were repeated.
   */
  async submitAll(
    bodies: readonly Record<string, unknown>[],
    options: { concurrency: number; retry?: boolean; retryUntil?: number; paceMs?: number },
  ): Promise<{ accepted: string[]; refused: { orderId: string; status: number }[]; repeats: number }> {
    const accepted: string[] = [];
    const refused: { orderId: string; status: number }[] = [];
    let repeats = 0;
    await pool(bodies, options.concurrency, async (body) => {
      const orderId = String(body.orderId);
      for (;;) {
        if (options.paceMs) await sleep(options.paceMs);
        let status = 0;
        try {
          status = (await this.post('/v1/recharges', body)).status;
        } catch {
          status = 0;
        }
        if (status === 200 || status === 202) {
          accepted.push(orderId);
          return;
        }
        if (!options.retry || Date.now() > (options.retryUntil ?? 0) || (status >= 400 && status < 500)) {
          refused.push({ orderId, status });
          return;
        }
        repeats += 1;
        await sleep(200);
      }
    });
    return { accepted, refused, repeats };
  }

  /** Counts of this system's orders by state (all clients), straight from the ledger. */
  async counts(): Promise<Record<OrderState, number>> {
    const states: OrderState[] = [
      'queued',
      'processing',
      'pending',
      'success',
      'failed',
      'reversed',
      'manual_review',
    ];
    const counts = await Promise.all(states.map((s) => this.ledger.countInState(s)));
    return Object.fromEntries(states.map((s, i) => [s, counts[i]?.count ?? 0])) as Record<OrderState, number>;
  }

  /**
   * Waits until no order is queued, processing or pending (or only the `allowPending` ones),
   * printing progress every 5 s. Returns whether it got there before `timeoutMs`.
   */
  async waitSettled(
    say: (line: string) => void,
    timeoutMs: number,
    stop: readonly OrderState[] = IN_PROGRESS,
  ): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    let lastSaid = Date.now();
    for (;;) {
      const counts = await this.counts();
      const open = stop.reduce((sum, s) => sum + counts[s], 0);
      if (open === 0) return true;
      if (Date.now() > until) {
        say(`  not settled in time: ${JSON.stringify(counts)}`);
        return false;
      }
      if (Date.now() - lastSaid > 5_000) {
        say(`  waiting: ${JSON.stringify(counts)}`);
        lastSaid = Date.now();
      }
      await sleep(250);
    }
  }

  /** Reads orders of CLIENT straight from the ledger; a missing one is null. */
  async readOrders(orderIds: readonly string[], clientId = CLIENT): Promise<Map<string, Order | null>> {
    const orders = await pool(orderIds, 32, (orderId) => this.ledger.getOrder({ clientId, orderId }));
    return new Map(orderIds.map((id, i) => [id, orders[i] ?? null]));
  }

  /** What the simulator (default the first) recorded for these provider orderids (null: never received). */
  async simOrders(
    providerOrderIds: readonly string[],
    sim = this.sim,
  ): Promise<Map<string, SimOrder | null>> {
    const found = await pool(providerOrderIds, 16, async (poid) => {
      const res = await fetch(`${sim}/_sim/orders/${encodeURIComponent(poid)}`);
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) throw new Error(`simulator /_sim/orders: HTTP ${res.status}`);
      return (await res.json()) as SimOrder;
    });
    return new Map(providerOrderIds.map((id, i) => [id, found[i] ?? null]));
  }

  simStats(sim = this.sim): Promise<SimStats> {
    return this.getJson<SimStats>(`${sim}/_sim/stats`);
  }

  /** A simulator's books (default the first): every orderid received, what it charged. */
  async simBooks(sim = this.sim): Promise<SimBookEntry[]> {
    return (await readBooks(sim)) as SimBookEntry[];
  }

  async simConfig(patch: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${this.sim}/_sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });
    if (!res.ok) throw new Error(`simulator config: HTTP ${res.status} ${await res.text()}`);
  }

  /** GET /v1/providers: each provider's health and breaker state. */
  async providers(): Promise<{ name: string; health: string; breaker: { state: string } }[]> {
    const body = await this.getJson<{
      providers: { name: string; health: string; breaker: { state: string } }[];
    }>(`${this.api}/v1/providers`, this.headers);
    return body.providers;
  }

  /** SIGTERMs every running part (workers first, the simulator last); their exit codes by name. */
  async stop(): Promise<Record<string, number | null>> {
    if (this.#stopped) return {};
    this.#stopped = true;
    const order = (p: RunningPart) =>
      p.name.startsWith('worker') ? 0 : p.name.startsWith('poller') ? 1 : p.name === 'api' ? 2 : 3;
    const running = this.alive().sort((a, b) => order(a) - order(b));
    const codes: Record<string, number | null> = {};
    for (const rank of [0, 1, 2, 3]) {
      const group = running.filter((p) => order(p) === rank);
      for (const p of group) {
        const entry = this.tracked.find((t) => t.part === p);
        if (entry) entry.expected = true;
      }
      const exits = await Promise.all(group.map((p) => p.stop(20_000)));
      group.forEach((p, i) => {
        codes[p.name] = exits[i] ?? null;
      });
    }
    await this.proxy?.down();
    return codes;
  }

  /** Writes every part's log lines to `<dir>/<part>.log`; returns the directory. */
  saveLogs(dir = join(tmpdir(), `rf-chaos-logs-${this.prefix}`)): string {
    mkdirSync(dir, { recursive: true });
    for (const part of this.parts) writeFileSync(join(dir, `${part.name}.log`), `${part.lines.join('\n')}\n`);
    return dir;
  }

  /** Deletes every key under the prefix (queues, breaker, token pool, ledger) and disconnects. */
  async cleanup(): Promise<number> {
    if (!this.redis) return 0;
    let deleted = 0;
    try {
      deleted = await deleteByPrefix(this.redis, this.prefix);
    } finally {
      await this.ledger?.close().catch(() => undefined);
      this.redis.disconnect();
    }
    return deleted;
  }
}

/** Resolves when the part logs `pattern`; rejects at once if it exits first (with its last lines). */
export async function ready(part: RunningPart, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const exited = part.exited.then((code) => {
    throw new Error(
      `${part.name} exited (${code}) before it was ready:\n${part.lines.slice(-10).join('\n')}`,
    );
  });
  exited.catch(() => undefined);
  return Promise.race([part.waitForLine(pattern, timeoutMs), exited]);
}

/** A mobile recharge body for A1Topup (Airtel, Delhi circle). */
export function a1Order(orderId: string, amount: number, number: string): Record<string, unknown> {
  return { orderId, operator: 'A', circle: '5', number, amount };
}

export const PAYMENT_TOKEN_PREFIX = 'pm_chaos';

/** A Telgoo5 add_topup order (amount in dollars), paid with a saved payment profile. */
export function telgoo5Order(
  orderId: string,
  amount: number,
  mdn: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    orderId,
    operator: 'TELGOO5',
    number: mdn,
    amount,
    telgoo5: {
      enrollmentId: 'AGKN4441',
      planCode: '12',
      topupType: 'ADDON',
      paymentToken: `${PAYMENT_TOKEN_PREFIX}${mdn}`,
      billingState: 'WA',
      billingCity: 'Seattle',
      ...extra,
    },
  };
}

/** The states an order passed through, in order (its history's `to`s). */
export function path(order: Order): string[] {
  return order.history.map((h) => h.to);
}

/** Tallies a list of strings. */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** What the ledger and the provider say together about every accepted order (the money checks). */
export interface Verdict {
  /** Accepted but absent from the ledger. */
  readonly missing: readonly string[];
  /** Still queued, processing or pending. */
  readonly notFinal: number;
  /** success without the provider carrying it out, or failed although it did. */
  readonly mismatched: number;
  readonly maxSubmissions: number;
  /** failed, and the provider never received the order (safe: no money moved). */
  readonly neverReceivedFailed: number;
  readonly firstNeverReceived: { readonly orderId: string; readonly order: Order } | undefined;
  readonly success: number;
  readonly failed: number;
  /** The first few not-final or disagreeing orders, for the FAIL line. */
  readonly examples: readonly string[];
}

export function verdictOf(orders: Map<string, Order | null>, sim: Map<string, SimOrder | null>): Verdict {
  const missing: string[] = [];
  const examples: string[] = [];
  let notFinal = 0;
  let mismatched = 0;
  let maxSubmissions = 0;
  let neverReceivedFailed = 0;
  let firstNeverReceived: Verdict['firstNeverReceived'];
  let success = 0;
  let failed = 0;
  for (const [orderId, order] of orders) {
    if (!order) {
      missing.push(orderId);
      continue;
    }
    const seen = sim.get(order.providerOrderId) ?? null;
    maxSubmissions = Math.max(maxSubmissions, seen?.submissions ?? 0);
    if (order.state !== 'success' && order.state !== 'failed') {
      notFinal += 1;
      if (examples.length < 3) examples.push(`${orderId} ${order.state}`);
      continue;
    }
    if (order.state === 'success') success += 1;
    else failed += 1;
    // success <=> the provider carried it out; failed only if it never did.
    const consistent =
      order.state === 'success' ? seen?.status === 'success' : seen === null || seen.status === 'failed';
    if (!consistent) {
      mismatched += 1;
      if (examples.length < 3) examples.push(`${orderId} ledger ${order.state}, provider ${seen?.status}`);
    }
    if (order.state === 'failed' && seen === null) {
      neverReceivedFailed += 1;
      firstNeverReceived ??= { orderId, order };
    }
  }
  return {
    missing,
    notFinal,
    mismatched,
    maxSubmissions,
    neverReceivedFailed,
    firstNeverReceived,
    success,
    failed,
    examples,
  };
}
