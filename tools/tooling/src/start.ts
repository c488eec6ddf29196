/**
 * `npm start`: the whole system on this machine — simulator (as A1Topup), ingest API, worker,
 * importer and poller — as child processes sharing one Redis. Prints the URL, a working API key and a curl line
 * once every part is up (the API answers /readyz, the others have logged that they run). Ctrl-C
 * stops every part gracefully (a second Ctrl-C forces).
 *
 * The parts always log JSON lines; this script passes them on to its stdout, as readable lines
 * through pino-pretty when stdout is a terminal (or LOG_FORMAT=pretty), unchanged otherwise
 * (LOG_FORMAT=json). Each part scrubs secrets before writing, so pretty lines are scrubbed too.
 * `npm start -- --fresh` first deletes the demo's own Redis keys (QUEUE_PREFIX and LEDGER_PREFIX).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashedApiKeyEntry, redisRoles, storageEnvShape } from '@rechargeflow/config';
import { createQueueConnection, readAofEnabled, waitForRedis } from '@rechargeflow/queue';
import { WORKER_PROCESSES, type WorkerProcessName, workerQueuesOf } from '@rechargeflow/runtime';
import {
  type AppName,
  deleteByPrefix,
  freePort,
  installed,
  REPO_ROOT,
  type RunningPart,
  startApp,
  startProcess,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { prettyFactory } from 'pino-pretty';
import { z } from 'zod';
import { removeRunFile, runFilePath, writeRunFile } from './batch/run-file.ts';

const env: Record<string, string | undefined> = { ...process.env };
const parts: RunningPart[] = [];
let privateRedis: { part: RunningPart; dir: string } | undefined;
let stopping = false;
const fresh = process.argv.slice(2).includes('--fresh');
const pretty =
  (env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json')).toLowerCase() === 'pretty'
    ? prettyFactory({
        colorize: Boolean(process.stdout.isTTY),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,part',
        singleLine: true,
      })
    : undefined;

/** A part's output line, to this script's stdout: readable on a terminal, JSON otherwise. */
function passOn(line: string): void {
  if (!pretty || !line.startsWith('{')) {
    process.stdout.write(`${line}\n`);
    return;
  }
  let text: string;
  try {
    text = pretty(line);
  } catch {
    text = `${line}\n`;
  }
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The line each part logs once it is up (the API is also asked /readyz). */
const UP_LINE: Record<AppName, RegExp> = {
  api: /"msg":"ingest API listening"/,
  worker: /"msg":"recharge worker running"/,
  poller: /"msg":"poller running"/,
  simulator: /"msg":"Telgoo5 simulator listening"/,
};

function say(line: string): void {
  process.stderr.write(`rechargeflow: ${line}\n`);
}

function redisAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) =>
      finish(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH')),
    );
  });
}

function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, host, () => server.close(() => done(true)));
  });
}

/** Which Redis serves the ledger and the queues, as the parts will read it; null while a variable is bad. */
function roles() {
  const parsed = z.object(storageEnvShape).safeParse(env);
  return parsed.success ? redisRoles(parsed.data) : null;
}

async function ensureRedis(): Promise<void> {
  // Both roles placed elsewhere: REDIS_URL is not used.
  const split = env.LEDGER_REDIS_URL && (env.QUEUE_REDIS_URL || env.QUEUE_REDIS_CLUSTER_NODES);
  if (env.REDIS_URL || split) return;
  if (await redisAnswers('127.0.0.1', 6379)) {
    env.REDIS_URL = 'redis://127.0.0.1:6379';
    return;
  }
  if (!installed('redis-server', ['--version'])) {
    say(
      'no Redis answers on 127.0.0.1:6379 and redis-server is not installed. Install it (apt-get install redis-server), or run "docker compose -f docker/compose.yaml up -d redis", or set REDIS_URL to a Redis 7 with maxmemory-policy noeviction.',
    );
    process.exit(1);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rechargeflow-redis-'));
  const part = startProcess({
    label: 'redis-server',
    command: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
      // Orders' hashes in the compact encoding (docs/operations.md#redis).
      '--hash-max-listpack-value',
      '512',
    ],
    stdout: 'ignore',
  });
  privateRedis = { part, dir };
  for (let i = 0; i < 50 && !(await redisAnswers('127.0.0.1', port)); i++) await sleep(100);
  env.REDIS_URL = `redis://127.0.0.1:${port}`;
  say(
    `no Redis on 127.0.0.1:6379; started a private redis-server on port ${port} (data in ${dir}, removed on exit)`,
  );
}

/** Whether the Redis keeps an append-only file (INFO persistence); null when it cannot be read. */
async function redisHasAof(url: string): Promise<boolean | null> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    return await readAofEnabled(redis);
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

/** The parts npm start runs: the apps, the worker app twice (packages/runtime/src/worker-processes.ts). */
type PartName = Exclude<AppName, 'worker'> | WorkerProcessName;

function appOf(part: string): AppName {
  return part === 'importer' ? 'worker' : (part as AppName);
}

function startPart(name: PartName): void {
  const worker = name === 'worker' || name === 'importer' ? WORKER_PROCESSES[name] : undefined;
  // Own process group: a terminal Ctrl-C reaches only this script, which then sends each part one
  // SIGTERM (a part treats a second signal as "force exit", so it must not get two). The parts get
  // exactly this script's environment (and a worker its WORKER_QUEUES): ALLOW_LEDGER_WITHOUT_AOF
  // only as decided in main().
  const part = startApp(
    appOf(name),
    worker ? { WORKER_QUEUES: workerQueuesOf(name as WorkerProcessName) } : {},
    name,
    {
      // Each worker process's Node flags, as every other way of starting it passes them.
      nodeFlags: worker?.nodeFlags ?? [],
      baseEnv: env,
      allowLedgerWithoutAof: false,
      // Captured and passed on line by line (passOn); only the last lines are kept, to find UP_LINE.
      stdout: 'capture',
      keepLines: 200,
      onLine: passOn,
      detached: true,
    },
  );
  parts.push(part);
  part.child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything`);
    void stop(1);
  });
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  return false;
}

/** Resolves once every part has logged its UP_LINE; false after timeoutMs or when one exited. */
async function waitPartsUp(timeoutMs: number): Promise<boolean> {
  try {
    await Promise.all(parts.map((part) => part.waitForLine(UP_LINE[appOf(part.name)], timeoutMs)));
    return true;
  } catch {
    return false;
  }
}

/**
 * `--fresh`: deletes the demo's own keys (its queue prefix on the queue side, its ledger prefix on
 * the ledger's Redis), nothing else; a Redis Cluster master by master.
 */
async function clearDemoData(): Promise<void> {
  const where = roles();
  if (!where) return; // a bad variable: the parts name it
  // With the separator: `rf:` never matches another system's `rf-other:`.
  const queuePrefix = `${env.QUEUE_PREFIX || 'rf'}:`;
  const ledgerPrefix = `${env.LEDGER_PREFIX || 'rf:ledger'}:`;
  const queue = createQueueConnection(where.queue, 'producer', 'npm-start');
  const ledger = env.MONGO_URL ? undefined : new Redis(where.ledgerUrl, { maxRetriesPerRequest: 1 });
  for (const connection of [queue, ledger]) connection?.on('error', () => undefined);
  try {
    // A cluster knows its masters once ready; a producer connection queues nothing before.
    await waitForRedis(queue, 10_000);
    let removed = await deleteByPrefix(queue, queuePrefix);
    if (ledger) removed += await deleteByPrefix(ledger, ledgerPrefix);
    const prefixes = [...new Set([queuePrefix, ...(ledger ? [ledgerPrefix] : [])])];
    say(
      `--fresh: removed ${removed} Redis keys under ${prefixes.join(' and ')}${env.MONGO_URL ? ' (the MongoDB ledger is not cleared)' : ''}`,
    );
  } finally {
    queue.disconnect();
    ledger?.disconnect();
  }
}

/**
 * The demo's WEBHOOK_SIGNING_SECRET: endpoint secrets are derived from it, so it must survive
 * restarts. Made once into `.rechargeflow/webhook-signing-secret` (gitignored), read from there after.
 */
function demoWebhookKey(): string {
  const file = join(REPO_ROOT, '.rechargeflow', 'webhook-signing-secret');
  const kept = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (kept.length >= 32) return kept;
  const key = randomBytes(32).toString('base64url');
  mkdirSync(join(REPO_ROOT, '.rechargeflow'), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping all parts');
  removeRunFile(runFilePath(env));
  // One SIGTERM each, at once; SIGKILL for a part still running after 35 s.
  await Promise.all(parts.map((part) => part.stop(35_000)));
  // Their last lines still in the pipes are passed on before this script exits.
  await Promise.race([Promise.all(parts.map((part) => part.closed)), sleep(2_000)]);
  if (privateRedis) {
    privateRedis.part.kill('SIGTERM');
    await sleep(300);
    rmSync(privateRedis.dir, { recursive: true, force: true });
  }
  process.exit(code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function main(): Promise<void> {
  // Whatever ends this script, no part is left running on its own.
  process.on('exit', () => {
    removeRunFile(runFilePath(env));
    for (const part of parts) if (part.running()) part.kill('SIGKILL');
    if (privateRedis?.part.running()) privateRedis.part.kill('SIGKILL');
  });
  let forced = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        if (!forced) {
          forced = true;
          say('second signal: forcing exit');
          for (const part of parts) part.kill('SIGKILL');
          privateRedis?.part.kill('SIGKILL');
          process.exit(1);
        }
        return;
      }
      void stop(0);
    });
  }

  await ensureRedis();
  // The parts refuse a Redis ledger without an append-only file; the demo runs on whatever Redis
  // this machine has, and says so in the banner (an explicit ALLOW_LEDGER_WITHOUT_AOF is kept).
  const ledgerUrl = roles()?.ledgerUrl;
  const withoutPersistence = !env.MONGO_URL && !!ledgerUrl && (await redisHasAof(ledgerUrl)) === false;
  if (withoutPersistence) env.ALLOW_LEDGER_WITHOUT_AOF ??= 'on';
  if (fresh) await clearDemoData();

  let generatedKey: string | undefined;
  let operatorKey: string | undefined;
  if (!env.API_KEYS) {
    generatedKey = randomBytes(18).toString('base64url');
    operatorKey = randomBytes(18).toString('base64url');
    // Only the keys' hashes go into the parts' environment (as `npm run api-key` makes them).
    env.API_KEYS = [
      hashedApiKeyEntry('demo', generatedKey),
      hashedApiKeyEntry('ops', operatorKey, 'operator'),
    ].join(',');
  }
  const apiKey = generatedKey ?? env.API_KEYS.split(',')[0]?.split(':')[1] ?? '';
  env.CALLBACK_TOKEN ??= randomBytes(18).toString('base64url');
  // Webhooks on, with receivers on this machine allowed (loopback): a demo setting, never production's.
  env.WEBHOOK_SIGNING_SECRET ??= demoWebhookKey();
  env.WEBHOOK_ALLOW_PRIVATE ??= 'on';
  const simulatorOn = (env.SIMULATOR ?? (env.A1TOPUP_BASE_URL ? 'off' : 'on')).toLowerCase() === 'on';
  if (simulatorOn) {
    const simPort = env.SIMULATOR_PORT
      ? Number(env.SIMULATOR_PORT)
      : (await portFree(4010))
        ? 4010
        : await freePort();
    env.SIMULATOR_PORT = String(simPort);
    env.A1TOPUP_BASE_URL = `http://127.0.0.1:${simPort}`;
    env.A1TOPUP_USERNAME ??= 'demo';
    env.A1TOPUP_PASSWORD ??= randomBytes(12).toString('base64url');
    // The simulator plays Telgoo5 too (same port, under /telgoo5).
    env.PROVIDERS ??= 'a1topup,telgoo5';
    env.TELGOO5_BASE_URL ??= `http://127.0.0.1:${simPort}/telgoo5`;
    env.TELGOO5_VENDOR_ID ??= 'demo-vendor';
    env.TELGOO5_USERNAME ??= 'demo';
    env.TELGOO5_PASSWORD ??= randomBytes(12).toString('base64url');
    env.TELGOO5_PIN ??= String(1000 + (randomBytes(2).readUInt16BE() % 9000));
    env.TELGOO5_AGENT_ID ??= 'demo-agent';
  }
  // The poller refuses a stuck time not longer than the longest recharge call plus 30 s: with
  // Telgoo5 at the default PROVIDER_TIMEOUT_MS that call may take 280 s.
  if (env.PROVIDERS?.toLowerCase().includes('telgoo5')) env.PROCESSING_STUCK_AFTER_MS ??= '360000';
  if (!env.PORT && !(await portFree(8080))) {
    env.PORT = String(await freePort());
    say(`port 8080 is taken; the API uses ${env.PORT} (set PORT to choose)`);
  }
  const port = env.PORT ?? '8080';
  const callbackUrl = `http://127.0.0.1:${port}/callbacks/a1topup/${env.CALLBACK_TOKEN.split(',')[0]}`;
  if (simulatorOn) {
    // The simulator sends late results and reversals to the API like A1Topup would.
    env.SIM_CALLBACK_URL ??= callbackUrl;
    startPart('simulator');
  }
  env.HOST ??= '127.0.0.1';
  startPart('api');
  startPart('worker');
  startPart('importer');
  startPart('poller');

  const url = `http://127.0.0.1:${port}`;
  if (!(await waitReady(url, 60_000))) {
    say('the API did not become ready within 60 s; see the log lines above');
    await stop(1);
    return;
  }
  if (!(await waitPartsUp(60_000))) {
    if (stopping) return;
    say('not every part came up within 60 s; see the log lines above');
    await stop(1);
    return;
  }
  if (stopping) return;
  // How `npm run batch` finds this API and its demo key (removed on exit; never a key's hash).
  const runKey = generatedKey ?? (apiKey.startsWith('sha256-') ? undefined : apiKey);
  try {
    writeRunFile(runFilePath(env), {
      url,
      ...(runKey ? { apiKey: runKey } : {}),
      startedAt: new Date().toISOString(),
    });
  } catch (error) {
    say(`could not write ${runFilePath(env)} (${String(error)}); npm run batch needs RECHARGEFLOW_URL`);
  }
  const orderId = `demo-${Date.now()}`;
  process.stderr.write(
    [
      '',
      '  Rechargeflow is running.',
      `    API:       ${url}   (OpenAPI docs: ${url}/docs)`,
      `    API key:   ${apiKey}`,
      ...(operatorKey
        ? [
            `    operator:  ${operatorKey}   (operator routes; the queue board at ${url}/admin/queues:`,
            '               any user name, this key as the password)',
          ]
        : []),
      `    ledger:    ${env.MONGO_URL ? 'MongoDB' : `Redis (${ledgerUrl})`}`,
      ...(withoutPersistence
        ? [
            '    WARNING:   demo without persistence: this Redis has appendonly no, so a Redis restart loses every order (see docs/operations.md, "Redis")',
          ]
        : []),
      `    providers: ${simulatorOn ? `simulator as A1Topup (${env.A1TOPUP_BASE_URL}) and Telgoo5 (${env.TELGOO5_BASE_URL})` : `${env.PROVIDERS ?? 'a1topup'}`}`,
      `    callbacks: ${callbackUrl.replace('127.0.0.1', '<this host>')}  (the URL to give A1Topup)`,
      `    webhooks:  POST ${url}/v1/webhooks  (${/^(on|true|1)$/i.test(env.WEBHOOK_ALLOW_PRIVATE ?? '') ? 'receivers on this machine allowed: WEBHOOK_ALLOW_PRIVATE is on' : 'public addresses only'})`,
      '',
      '  Try a recharge:',
      `    curl -s -X POST ${url}/v1/recharges -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' \\`,
      `      -d '{"orderId":"${orderId}","operator":"A","circle":"5","number":"9800000000","amount":10}'`,
      `    curl -s ${url}/v1/recharges/${orderId} -H 'Authorization: Bearer ${apiKey}'`,
      '',
      '  Ctrl-C stops every part.',
      '',
    ].join('\n'),
  );
}

void main();
