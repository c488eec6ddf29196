/**
 * Checks the container set-up on a machine with no Docker engine (npm test runs it through
 * tools/tooling/test/containers.test.ts):
 *
 *   compose     docker/compose.yaml through `docker compose config` (or Debian's docker-compose 1.29):
 *               valid; every service health-checked; depends_on waits for health; the worker scales
 *               (no container_name, no published port); Redis with AOF and noeviction; MongoDB a
 *               replica set with majority writes; named volumes; every app's environment accepted by
 *               that app's own config schema, with the defaults and with docker/.env.example.
 *   prometheus  `promtool check config` on docker/prometheus/prometheus.yml (and alerts.yml), scrape
 *               jobs matching the compose ports, Grafana provisioning.
 *   prod        the image's install, done here: the build context as .dockerignore leaves it,
 *               `pnpm fetch --prod` then `pnpm install --prod --frozen-lockfile --prefer-offline`, every part
 *               started from that tree (local Redis, private key prefixes) and one recharge carried
 *               through api → worker → simulator (the importer started too): no devDependency is
 *               needed at run time.
 *
 *   node tools/tooling/src/check-containers.ts [compose] [prometheus] [prod]   (default: all three)
 *
 * Prints one line per check — `ok`, `FAILED` with every problem, or `SKIPPED` with the reason (a tool
 * not installed) — and exits 1 if anything failed.
 */
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadApiConfig } from '@rechargeflow/api-app';
import { loadPollerConfig } from '@rechargeflow/poller-app';
import { WORKER_PROCESSES, workerQueuesOf } from '@rechargeflow/runtime';
import { parseSimulatorConfig } from '@rechargeflow/simulator-app';
import {
  type AppName,
  type CommandResult,
  deleteByPrefix,
  freePort,
  installed,
  type RunningPart,
  REPO_ROOT as root,
  runCommand,
  startApp,
} from '@rechargeflow/testkit';
import { loadWorkerConfig } from '@rechargeflow/worker-app';
import { Redis } from 'ioredis';

const COMPOSE_FILE = join(root, 'docker/compose.yaml');
const ENV_EXAMPLE = join(root, 'docker/.env.example');
const PROMETHEUS_FILE = join(root, 'docker/prometheus/prometheus.yml');
const ALERTS_FILE = join(root, 'docker/prometheus/alerts.yml');
const GRAFANA_DATASOURCE = join(root, 'docker/grafana/provisioning/datasources/prometheus.yaml');
const GRAFANA_DASHBOARDS = join(root, 'docker/grafana/provisioning/dashboards/rechargeflow.yaml');
const EXPECTED_SERVICES = [
  'mongo',
  'redis',
  'api',
  'worker',
  'importer',
  'poller',
  'simulator',
  'prometheus',
  'grafana',
];
const PARTS = ['api', 'worker', 'poller', 'simulator'] as const;

type Json = Record<string, unknown>;
const failed: string[] = [];

function report(check: string, problems: readonly string[], note?: string): void {
  if (problems.length > 0) {
    failed.push(check);
    console.log(`containers: ${check}: FAILED\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  } else {
    console.log(`containers: ${check}: ok${note ? ` (${note})` : ''}`);
  }
}

function skipped(check: string, why: string): void {
  console.log(`containers: ${check}: SKIPPED (${why})`);
}

function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): CommandResult {
  return runCommand(command, args, {
    cwd: options.cwd ?? root,
    ...(options.env ? { env: options.env } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}

function firstLines(text: string, count = 8): string {
  return text.trim().split('\n').slice(0, count).join('\n    ');
}

// ---- YAML, read by Python's PyYAML (docker-compose 1.x depends on it, so it is there with it) ----

let yamlReader: boolean | undefined;
function canReadYaml(): boolean {
  yamlReader ??= installed('python3', ['-c', 'import yaml']);
  return yamlReader;
}

function readYaml(text: string): unknown {
  const result = run(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    {
      input: text,
    },
  );
  if (!result.ok) throw new Error(`not valid YAML: ${firstLines(result.stderr, 3)}`);
  return JSON.parse(result.stdout);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

// ---- compose ----------------------------------------------------------------------------------

interface ComposeTool {
  label: string;
  command: string;
  prefix: string[];
  /** Compose v2 prints JSON; v1 only YAML. */
  json: boolean;
}

function composeTool(): ComposeTool | null {
  if (installed('docker', ['compose', 'version']))
    return { label: 'docker compose', command: 'docker', prefix: ['compose'], json: true };
  if (installed('docker-compose', ['version']))
    return { label: 'docker-compose', command: 'docker-compose', prefix: [], json: false };
  return null;
}

interface Volume {
  type: 'bind' | 'volume';
  source: string;
  target: string;
}

interface Service {
  name: string;
  image: string;
  dockerfile: string;
  command: string[];
  env: Record<string, string>;
  ports: unknown[];
  volumes: Volume[];
  healthcheck: string[] | null;
  dependsOn: Record<string, string>;
  containerName: string | undefined;
  stopGraceMs: number | undefined;
}

function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value / 1e6; // v2 JSON may give nanoseconds
  if (typeof value !== 'string') return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g))
    total += Number(amount) * (units[unit ?? 's'] ?? 0);
  return total;
}

function normalise(name: string, raw: Json): Service {
  const environment = raw.environment;
  const env: Record<string, string> = {};
  if (Array.isArray(environment)) {
    for (const item of environment) {
      const [key = '', ...rest] = String(item).split('=');
      env[key] = rest.join('=');
    }
  } else {
    for (const [key, value] of Object.entries(asObject(environment)))
      env[key] = value == null ? '' : String(value);
  }
  const volumes = asArray(raw.volumes).map((v): Volume => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return { type: source.startsWith('/') || source.startsWith('.') ? 'bind' : 'volume', source, target };
    }
    const o = asObject(v);
    return {
      type: o.type === 'bind' ? 'bind' : 'volume',
      source: String(o.source ?? ''),
      target: String(o.target ?? ''),
    };
  });
  const health = asObject(raw.healthcheck);
  const test = health.test;
  const healthcheck =
    health.disable === true || test === undefined
      ? null
      : typeof test === 'string'
        ? ['CMD-SHELL', test]
        : asArray(test).map(String);
  const dependsOn: Record<string, string> = {};
  if (Array.isArray(raw.depends_on)) for (const d of raw.depends_on) dependsOn[String(d)] = 'service_started';
  else
    for (const [dep, value] of Object.entries(asObject(raw.depends_on)))
      dependsOn[dep] = String(asObject(value).condition ?? 'service_started');
  const command =
    typeof raw.command === 'string' ? raw.command.split(/\s+/) : asArray(raw.command).map(String);
  return {
    name,
    image: String(raw.image ?? ''),
    dockerfile: String(asObject(raw.build).dockerfile ?? ''),
    command,
    env,
    ports: asArray(raw.ports),
    volumes,
    healthcheck: healthcheck && healthcheck[0] !== 'NONE' && healthcheck.length > 1 ? healthcheck : null,
    dependsOn,
    containerName: typeof raw.container_name === 'string' ? raw.container_name : undefined,
    stopGraceMs: durationMs(raw.stop_grace_period),
  };
}

/** `config` with a clean environment and the given env file (empty: the compose defaults). */
function composeConfig(tool: ComposeTool, envFile: string): Map<string, Service> {
  const args = [...tool.prefix, '-f', COMPOSE_FILE, '--env-file', envFile, 'config'];
  if (tool.json) args.push('--format', 'json');
  const result = run(tool.command, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' },
  });
  if (!result.ok) throw new Error(`${tool.label} config failed:\n    ${firstLines(result.stderr)}`);
  const config = asObject(tool.json ? JSON.parse(result.stdout) : readYaml(result.stdout));
  return new Map(
    Object.entries(asObject(config.services)).map(([name, raw]) => [name, normalise(name, asObject(raw))]),
  );
}

function configProblems(part: string, load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (error) {
    const problems = (error as { problems?: readonly string[] }).problems;
    return (problems ?? [error instanceof Error ? error.message : String(error)]).map(
      (p) => `${part}: its environment fails its config schema: ${p}`,
    );
  }
}

/** Everything that must hold for the stack to run and scale; `label` names the environment used. */
function composeProblems(services: Map<string, Service>, label: string): string[] {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`${label}: ${text}`);
  for (const name of EXPECTED_SERVICES) if (!services.has(name)) say(`service "${name}" is missing`);
  for (const s of services.values()) {
    if (!s.healthcheck) say(`${s.name} has no health check`);
    if (s.containerName) say(`${s.name} has a fixed container_name "${s.containerName}": it cannot scale`);
    for (const [dep, condition] of Object.entries(s.dependsOn))
      if (condition !== 'service_healthy')
        say(`${s.name} waits for ${dep} only until ${condition}, not service_healthy`);
  }
  const get = (name: string) => services.get(name);
  const api = get('api');
  const worker = get('worker');
  const importer = get('importer');
  const poller = get('poller');
  const simulator = get('simulator');
  const redis = get('redis');
  const mongo = get('mongo');
  if (!api || !worker || !importer || !poller || !simulator || !redis || !mongo) return problems;

  if (worker.ports.length > 0) say('worker publishes a port: `--scale worker=N` would clash on it');
  const images = new Set([...PARTS.map((p) => get(p)?.image), importer.image]);
  if (images.size !== 1)
    say(`api, worker, importer, poller and simulator must run one image (found ${[...images].join(', ')})`);
  // The two worker processes as packages/runtime/src/worker-processes.ts defines them: what each consumes and
  // its Node flags (the importer's keep a large CSV import within its memory).
  for (const [s, kind] of [
    [worker, 'worker'],
    [importer, 'importer'],
  ] as const) {
    const wanted = WORKER_PROCESSES[kind];
    if (s.command.join(' ') !== [...wanted.nodeFlags, 'apps/worker/src/main.ts'].join(' '))
      say(`${s.name}'s command must be ${JSON.stringify([...wanted.nodeFlags, 'apps/worker/src/main.ts'])}`);
    if ((s.env.WORKER_QUEUES ?? '') !== workerQueuesOf(kind))
      say(`${s.name} must set WORKER_QUEUES=${workerQueuesOf(kind)}`);
  }
  for (const part of PARTS) {
    const s = get(part);
    if (!s) continue;
    if (!s.dockerfile.endsWith('docker/Dockerfile')) say(`${part} is not built from docker/Dockerfile`);
    if (s.command.at(-1) !== `apps/${part}/src/main.ts`)
      say(`${part}'s command does not end with apps/${part}/src/main.ts`);
    // Node flags before main.ts and NODE_OPTIONS must be ones this Node accepts.
    const flags = s.command.slice(0, -1);
    const probe = run(process.execPath, [...flags, '-e', '0'], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: s.env.NODE_OPTIONS ?? '' },
    });
    if (!probe.ok) say(`${part}: node refuses its flags: ${firstLines(probe.stderr, 2)}`);
  }
  for (const s of [api, worker, importer, poller]) {
    for (const dep of ['redis', 'mongo']) if (!s.dependsOn[dep]) say(`${s.name} does not wait for ${dep}`);
    const mongoUrl = s.env.MONGO_URL ?? '';
    if (!/[?&]replicaSet=rs0(&|$)/.test(mongoUrl) || !/[?&]w=majority(&|$)/.test(mongoUrl))
      say(`${s.name}: MONGO_URL must name replicaSet=rs0 and w=majority (is "${mongoUrl}")`);
    const shutdownMs = Number(s.env.SHUTDOWN_TIMEOUT_MS || 30_000);
    if (s.stopGraceMs === undefined || s.stopGraceMs <= shutdownMs)
      say(
        `${s.name}: stop_grace_period must exceed SHUTDOWN_TIMEOUT_MS (${shutdownMs} ms), or Docker kills it mid-drain`,
      );
    // The compose Redis keeps an append-only file: a ledger there must never need the escape hatch.
    if (/^(on|true|1)$/i.test((s.env.ALLOW_LEDGER_WITHOUT_AOF ?? '').trim()))
      say(`${s.name} must not set ALLOW_LEDGER_WITHOUT_AOF (compose runs Redis with --appendonly yes)`);
    for (const key of ['REDIS_URL', 'MONGO_URL', 'QUEUE_PREFIX', 'PROVIDERS', 'ROUTING_TABLE'])
      if ((s.env[key] ?? '') !== (api.env[key] ?? '')) say(`${s.name} and api disagree on ${key}`);
  }
  const redisCommand = redis.command.join(' ');
  if (!redisCommand.includes('--appendonly yes')) say('redis must run with --appendonly yes');
  if (!redisCommand.includes('--maxmemory-policy noeviction'))
    say('redis must run with --maxmemory-policy noeviction');
  if (!mongo.command.join(' ').includes('--replSet rs0'))
    say('mongo must run as replica set rs0 (--replSet rs0)');
  const mongoHealth = (mongo.healthcheck ?? []).join(' ');
  if (!mongoHealth.includes('rs.initiate') || !mongoHealth.includes('isWritablePrimary'))
    say('mongo health check must initiate rs0 and report healthy only once primary');
  const named: [string, string][] = [
    ['mongo', '/data/db'],
    ['redis', '/data'],
    ['prometheus', '/prometheus'],
    ['grafana', '/var/lib/grafana'],
  ];
  for (const [name, target] of named)
    if (!get(name)?.volumes.some((v) => v.type === 'volume' && v.target === target))
      say(`${name} must keep ${target} on a named volume`);
  const binds: [string, string, string][] = [
    ['prometheus', '/etc/prometheus', 'docker/prometheus'],
    ['grafana', '/etc/grafana/provisioning', 'docker/grafana/provisioning'],
    ['grafana', '/var/lib/grafana/dashboards', 'docker/grafana/dashboards'],
  ];
  for (const [name, target, source] of binds)
    if (
      !get(name)?.volumes.some((v) => v.type === 'bind' && v.target === target && v.source.endsWith(source))
    )
      say(`${name} must mount ${source} at ${target}`);

  // Each app's environment through its own schema: what the container would do at start-up.
  problems.push(
    ...[
      ...configProblems('api', () => loadApiConfig(api.env)),
      ...configProblems('worker', () => loadWorkerConfig(worker.env)),
      ...configProblems('importer', () => loadWorkerConfig(importer.env)),
      ...configProblems('poller', () => loadPollerConfig(poller.env)),
      ...configProblems('simulator', () => parseSimulatorConfig(simulator.env)),
    ].map((p) => `${label}: ${p}`),
  );
  if (api.env.HOST !== '0.0.0.0') say('api must listen on HOST=0.0.0.0 in a container');
  if (api.env.METRICS_HOST !== '0.0.0.0')
    say('api must bind its metrics on METRICS_HOST=0.0.0.0 for Prometheus to reach it');
  if (simulator.env.SIMULATOR_HOST !== '0.0.0.0') say('simulator must listen on SIMULATOR_HOST=0.0.0.0');
  const apiPort = api.env.PORT || '8080';
  const simPort = simulator.env.SIMULATOR_PORT || '4010';
  if (!api.healthcheck?.join(' ').includes(`:${apiPort}/readyz`))
    say(`api health check must ask :${apiPort}/readyz`);
  if (!simulator.healthcheck?.join(' ').includes(`:${simPort}/`))
    say(`simulator health check must ask port ${simPort}`);
  for (const s of [worker, importer, poller]) {
    const port = Number(s.env.METRICS_PORT || 0);
    if (port <= 0) say(`${s.name} needs METRICS_PORT (Prometheus and its health check use it)`);
    if (s.env.METRICS_HOST !== '0.0.0.0')
      say(`${s.name} must bind its metrics on METRICS_HOST=0.0.0.0 for Prometheus to reach it`);
    else if (!s.healthcheck?.join(' ').includes(`:${port}/metrics`))
      say(`${s.name} health check must ask its metrics endpoint :${port}/metrics`);
  }
  // The simulator accepts exactly the credentials the worker and poller send it.
  for (const s of [worker, importer, poller]) {
    for (const [urlKey, keys] of [
      ['A1TOPUP_BASE_URL', ['A1TOPUP_USERNAME', 'A1TOPUP_PASSWORD']],
      [
        'TELGOO5_BASE_URL',
        ['TELGOO5_VENDOR_ID', 'TELGOO5_USERNAME', 'TELGOO5_PASSWORD', 'TELGOO5_PIN', 'TELGOO5_AGENT_ID'],
      ],
    ] as const) {
      const url = s.env[urlKey] ?? '';
      if (!url.startsWith('http://simulator:')) continue;
      if (!url.startsWith(`http://simulator:${simPort}`))
        say(`${s.name}: ${urlKey} must use the simulator's port ${simPort}`);
      for (const key of keys)
        if ((s.env[key] ?? '') !== (simulator.env[key] ?? ''))
          say(`${s.name} and simulator disagree on ${key}`);
    }
  }
  const callback = simulator.env.SIM_CALLBACK_URL ?? '';
  const tokens = (api.env.CALLBACK_TOKEN ?? '').split(',').map((t) => t.trim());
  const match = /^http:\/\/api:(\d+)\/callbacks\/a1topup\/([^/?]+)$/.exec(callback);
  if (callback && (!match || match[1] !== apiPort || !tokens.includes(match[2] ?? '')))
    say(
      `simulator's SIM_CALLBACK_URL must be http://api:${apiPort}/callbacks/a1topup/<a CALLBACK_TOKEN of the api>`,
    );
  return problems;
}

let composeServices: Map<string, Service> | undefined;

/** The compose defaults when the compose check did not run (or could not read them): undefined. */
function composeDefaults(): Map<string, Service> | undefined {
  const tool = composeTool();
  if (!tool || (!tool.json && !canReadYaml())) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rechargeflow-compose-'));
  try {
    const empty = join(dir, 'empty.env');
    writeFileSync(empty, '');
    return composeConfig(tool, empty);
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkCompose(): void {
  const tool = composeTool();
  if (!tool) {
    skipped('compose', 'neither `docker compose` nor `docker-compose` is installed');
    return;
  }
  // The file as it would run here (with docker/.env if there is one).
  const quiet = run(tool.command, [...tool.prefix, '-f', COMPOSE_FILE, 'config', '-q']);
  if (!quiet.ok) {
    report('compose', [
      `${tool.label} -f docker/compose.yaml config -q failed:\n    ${firstLines(quiet.stderr)}`,
    ]);
    return;
  }
  if (!tool.json && !canReadYaml()) {
    report(
      'compose',
      [],
      `${tool.label} config -q passed; deeper checks SKIPPED: python3 with PyYAML is not installed`,
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rechargeflow-compose-'));
  try {
    const empty = join(dir, 'empty.env');
    writeFileSync(empty, '');
    const problems: string[] = [];
    for (const [label, envFile] of [
      ['defaults', empty],
      ['docker/.env.example', ENV_EXAMPLE],
    ] as const) {
      try {
        const services = composeConfig(tool, envFile);
        composeServices ??= services;
        problems.push(...composeProblems(services, label));
      } catch (error) {
        problems.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    report('compose', problems, `${tool.label}: config valid, defaults and docker/.env.example`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Prometheus and Grafana -------------------------------------------------------------------

function checkPrometheus(): void {
  const problems: string[] = [];
  const notes: string[] = [];
  if (installed('promtool', ['--version'])) {
    // prometheus.yml names /etc/prometheus/alerts.yml (its path in the container): check a copy that
    // points at a temporary directory, with a stand-in when alerts.yml has not been written yet.
    const dir = mkdtempSync(join(tmpdir(), 'rechargeflow-prometheus-'));
    try {
      const alerts = join(dir, 'alerts.yml');
      if (existsSync(ALERTS_FILE)) copyFileSync(ALERTS_FILE, alerts);
      else {
        writeFileSync(alerts, 'groups: []\n');
        notes.push('docker/prometheus/alerts.yml not written yet: an empty stand-in was used');
      }
      const config = join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        readFileSync(PROMETHEUS_FILE, 'utf8').replaceAll('/etc/prometheus/alerts.yml', alerts),
      );
      const result = run('promtool', ['check', 'config', config]);
      if (!result.ok)
        problems.push(
          `promtool check config failed:\n    ${firstLines(`${result.stdout}\n${result.stderr}`, 12)}`,
        );
      else notes.push('promtool check config passed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    skipped('prometheus (promtool)', 'promtool is not installed');
  }
  if (!canReadYaml()) {
    report(
      'prometheus',
      problems,
      [...notes, 'structure checks SKIPPED: python3 with PyYAML is not installed'].join('; '),
    );
    return;
  }
  try {
    const prometheus = asObject(readYaml(readFileSync(PROMETHEUS_FILE, 'utf8')));
    if (!asArray(prometheus.rule_files).includes('/etc/prometheus/alerts.yml'))
      problems.push('prometheus.yml must load rule_files: [/etc/prometheus/alerts.yml]');
    const jobs = new Map(
      asArray(prometheus.scrape_configs).map((j) => [String(asObject(j).job_name), asObject(j)]),
    );
    const services = composeServices ?? composeDefaults();
    const env = (name: string, key: string, fallback: string) => services?.get(name)?.env[key] || fallback;
    const wanted: [string, string][] = [
      ['api', env('api', 'METRICS_PORT', '9464')],
      ['worker', env('worker', 'METRICS_PORT', '9464')],
      ['importer', env('importer', 'METRICS_PORT', '9464')],
      ['poller', env('poller', 'METRICS_PORT', '9464')],
    ];
    for (const [service, port] of wanted) {
      const job = jobs.get(service);
      const sd = asArray(job?.dns_sd_configs).map(asObject);
      const found = sd.some(
        (c) => c.type === 'A' && asArray(c.names).includes(service) && String(c.port) === String(port),
      );
      if (!found)
        problems.push(
          `prometheus.yml: job "${service}" must use dns_sd_configs type A on "${service}", port ${port}`,
        );
      if (job?.metrics_path !== undefined && job.metrics_path !== '/metrics')
        problems.push(`prometheus.yml: job "${service}" must scrape /metrics`);
    }
    const datasource = asArray(asObject(readYaml(readFileSync(GRAFANA_DATASOURCE, 'utf8'))).datasources).map(
      asObject,
    );
    if (
      !datasource.some(
        (d) => d.uid === 'prometheus' && d.type === 'prometheus' && d.url === 'http://prometheus:9090',
      )
    )
      problems.push(
        'grafana datasource must be type prometheus, uid "prometheus", url http://prometheus:9090',
      );
    const providers = asArray(asObject(readYaml(readFileSync(GRAFANA_DASHBOARDS, 'utf8'))).providers).map(
      asObject,
    );
    if (
      !providers.some((p) => p.type === 'file' && asObject(p.options).path === '/var/lib/grafana/dashboards')
    )
      problems.push('grafana dashboards provider must be type file with path /var/lib/grafana/dashboards');
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  report('prometheus', problems, notes.join('; '));
}

// ---- production dependencies only ---------------------------------------------------------------

interface IgnoreRule {
  negate: boolean;
  regex: RegExp;
  /** Literal start of the pattern, to know whether an excluded directory may hold a re-included path. */
  prefix: string;
}

/** .dockerignore rules, roughly as Docker reads them: `**`, `*`, `?`, `!`; a match on a directory covers its content. */
function dockerignore(): IgnoreRule[] {
  return readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i] as string;
        if (pattern.startsWith('**/', i)) {
          source += '(?:.*/)?';
          i += 2;
        } else if (pattern.startsWith('**', i)) {
          source += '.*';
          i += 1;
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`), prefix: pattern.split(/[*?[]/)[0] ?? '' };
    });
}

function ignored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) out = !rule.negate;
  return out;
}

/** Copies the build context (the repository minus .dockerignore) into `target`. */
function copyContext(target: string): number {
  const rules = dockerignore();
  let files = 0;
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(root, rel))) {
      const path = rel ? `${rel}/${entry}` : entry;
      const stat = lstatSync(join(root, path));
      const excluded = ignored(rules, path);
      if (stat.isDirectory()) {
        if (!excluded || rules.some((r) => r.negate && r.prefix.startsWith(`${path}/`))) walk(path);
        continue;
      }
      if (excluded) continue;
      mkdirSync(dirname(join(target, path)), { recursive: true });
      if (stat.isSymbolicLink()) symlinkSync(readlinkSync(join(root, path)), join(target, path));
      else copyFileSync(join(root, path), join(target, path));
      files++;
    }
  };
  walk('');
  return files;
}

function pnpmCommand(): string | null {
  const local = join(root, '.tools/pnpm/node_modules/.bin/pnpm');
  if (existsSync(local)) return local;
  return installed('pnpm', ['--version']) ? 'pnpm' : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** An app started from the installed tree in `dir` (not this checkout), as the image would run it. */
function startPart(
  dir: string,
  name: AppName,
  nodeFlags: readonly string[],
  env: Record<string, string>,
): RunningPart {
  return startApp(name, env, name, {
    root: dir,
    nodeFlags,
    // Like the image: NODE_ENV=production and nothing else from this shell.
    baseEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', NODE_ENV: 'production' },
    allowLedgerWithoutAof: false,
    keepLines: 200,
  });
}

async function waitHttp(part: RunningPart, url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (part.child.exitCode !== null) break;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(
    `${part.name} did not answer ${url}${part.child.exitCode !== null ? ` (exited ${part.child.exitCode})` : ''}; last lines:\n      ${part.lines.slice(-8).join('\n      ')}`,
  );
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await deleteByPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

async function redisAnswers(redisUrl: string): Promise<boolean> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function checkProd(): Promise<void> {
  const pnpm = pnpmCommand();
  if (!pnpm) {
    skipped('prod', 'pnpm is not installed (npm start or npm test installs it into .tools)');
    return;
  }
  const problems: string[] = [];
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'rechargeflow-image-'));
  const app = join(dir, 'app');
  const parts: RunningPart[] = [];
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `rfcc${randomBytes(4).toString('hex')}`;
  let usedRedis = false;
  try {
    // The Dockerfile's two steps: fetch from the lockfile alone, then install from the whole context.
    const store = run(pnpm, ['store', 'path']).stdout.trim();
    const pnpmEnv = { ...process.env, CI: 'true' };
    const storeArgs = store ? ['--store-dir', store] : [];
    mkdirSync(app, { recursive: true });
    for (const file of ['pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc'])
      if (existsSync(join(root, file))) copyFileSync(join(root, file), join(app, file));
    const fetched = run(pnpm, ['fetch', '--prod', '--prefer-offline', ...storeArgs], {
      cwd: app,
      env: pnpmEnv,
    });
    if (!fetched.ok)
      throw new Error(
        `pnpm fetch --prod --prefer-offline failed:\n    ${firstLines(fetched.stdout + fetched.stderr, 12)}`,
      );
    const rules = dockerignore();
    for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc'])
      if (ignored(rules, file)) problems.push(`.dockerignore drops ${file}, which the Dockerfile needs`);
    const files = copyContext(app);
    const install = run(
      pnpm,
      ['install', '--prod', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only', ...storeArgs],
      { cwd: app, env: pnpmEnv, timeoutMs: 300_000 },
    );
    if (!install.ok)
      throw new Error(
        `pnpm install --prod --frozen-lockfile --prefer-offline failed:\n    ${firstLines(install.stdout + install.stderr, 15)}`,
      );
    // Nothing of the dev tooling made it in.
    const virtualStore = readdirSync(join(app, 'node_modules/.pnpm'));
    for (const dev of [
      'vitest@',
      'typescript@',
      '@biomejs+biome@',
      'turbo@',
      '@testcontainers+',
      'autocannon@',
    ])
      if (virtualStore.some((entry) => entry.startsWith(dev)))
        problems.push(`a devDependency was installed: ${dev}`);
    for (const part of PARTS)
      if (existsSync(join(app, `apps/${part}/node_modules/@rechargeflow/testkit`)))
        problems.push(`apps/${part} got @rechargeflow/testkit, a devDependency`);
    // The tools come as their package.json alone (and the batch CLI): none of their dependencies.
    for (const tool of existsSync(join(app, 'tools')) ? readdirSync(join(app, 'tools')) : []) {
      const installedDeps = existsSync(join(app, 'tools', tool, 'node_modules'))
        ? readdirSync(join(app, 'tools', tool, 'node_modules')).filter((entry) => !entry.startsWith('.'))
        : [];
      if (installedDeps.length > 0)
        problems.push(`tools/${tool} got its dependencies installed: ${installedDeps.join(', ')}`);
    }

    if (!(await redisAnswers(redisUrl))) {
      const note = `installed ${files} context files; starting the parts SKIPPED: no Redis answers on ${redisUrl}`;
      report('prod', problems, note);
      return;
    }
    usedRedis = true;
    const [simPort, apiPort, workerMetrics, importerMetrics, pollerMetrics] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const apiKey = randomBytes(18).toString('hex');
    const credentials = {
      A1TOPUP_USERNAME: 'check',
      A1TOPUP_PASSWORD: randomBytes(12).toString('hex'),
      TELGOO5_VENDOR_ID: 'check-vendor',
      TELGOO5_USERNAME: 'check',
      TELGOO5_PASSWORD: randomBytes(12).toString('hex'),
      TELGOO5_PIN: '2468',
      TELGOO5_AGENT_ID: 'check-agent',
    };
    const shared = {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LEDGER_PREFIX: `${prefix}:ledger`,
      PROVIDERS: 'a1topup,telgoo5',
      LOG_LEVEL: 'warn',
      // This machine's Redis keeps no append-only file (the compose Redis does, and needs no flag).
      ALLOW_LEDGER_WITHOUT_AOF: 'on',
    };
    const providers = {
      ...credentials,
      A1TOPUP_BASE_URL: `http://127.0.0.1:${simPort}`,
      TELGOO5_BASE_URL: `http://127.0.0.1:${simPort}/telgoo5`,
    };
    // The worker and the importer run with the Node flags and queues compose gives them (those of
    // packages/runtime/src/worker-processes.ts when compose cannot be read here).
    const services = composeServices ?? composeDefaults();
    const flagsOf = (name: 'worker' | 'importer') =>
      services?.get(name)?.command.slice(0, -1) ?? WORKER_PROCESSES[name].nodeFlags;
    const queuesOf = (name: 'worker' | 'importer') =>
      services?.get(name)?.env.WORKER_QUEUES ?? workerQueuesOf(name);

    const simulator = startPart(app, 'simulator', [], {
      ...credentials,
      SIMULATOR_PORT: String(simPort),
      SIMULATOR_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    parts.push(simulator);
    await waitHttp(simulator, `http://127.0.0.1:${simPort}/_sim/stats`);
    const api = startPart(app, 'api', [], {
      ...shared,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      API_KEYS: `check:${apiKey}`,
      CALLBACK_TOKEN: randomBytes(12).toString('hex'),
    });
    parts.push(api);
    const worker = startPart(app, 'worker', flagsOf('worker'), {
      ...shared,
      ...providers,
      METRICS_PORT: String(workerMetrics),
      WORKER_QUEUES: queuesOf('worker'),
    });
    parts.push(worker);
    const importer = startPart(app, 'worker', flagsOf('importer'), {
      ...shared,
      ...providers,
      METRICS_PORT: String(importerMetrics),
      WORKER_QUEUES: queuesOf('importer'),
    });
    parts.push(importer);
    const poller = startPart(app, 'poller', [], {
      ...shared,
      ...providers,
      METRICS_PORT: String(pollerMetrics),
      // As compose: longer than Telgoo5's longest call (280 s at the default timeout) plus 30 s.
      PROCESSING_STUCK_AFTER_MS: '360000',
    });
    parts.push(poller);
    await waitHttp(api, `http://127.0.0.1:${apiPort}/readyz`);
    await waitHttp(worker, `http://127.0.0.1:${workerMetrics}/metrics`);
    await waitHttp(importer, `http://127.0.0.1:${importerMetrics}/metrics`);
    await waitHttp(poller, `http://127.0.0.1:${pollerMetrics}/metrics`);

    // One recharge end to end: api → queue → worker → simulator → ledger.
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const orderId = `containers-check-${Date.now()}`;
    const submitted = await fetch(`http://127.0.0.1:${apiPort}/v1/recharges`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ orderId, operator: 'A', circle: '5', number: '9800000000', amount: 10 }),
    });
    if (submitted.status !== 202) problems.push(`POST /v1/recharges answered ${submitted.status}, not 202`);
    let status = '';
    for (const until = Date.now() + 30_000; Date.now() < until && status !== 'success'; ) {
      const response = await fetch(`http://127.0.0.1:${apiPort}/v1/recharges/${orderId}`, { headers });
      status = response.ok ? String(asObject(await response.json()).status) : `HTTP ${response.status}`;
      if (status !== 'success') await sleep(200);
    }
    if (status !== 'success') problems.push(`the test recharge ended "${status}", not success`);

    for (const part of [...parts].reverse()) {
      const code = await part.stop(40_000);
      if (code !== 0)
        problems.push(
          `${part.name} exited ${code} on SIGTERM; last lines:\n      ${part.lines.slice(-8).join('\n      ')}`,
        );
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    report(
      'prod',
      problems,
      `${files} context files, pnpm install --prod --prefer-offline, api/worker/importer/poller/simulator started from it and one recharge succeeded, ${seconds} s`,
    );
  } catch (error) {
    report('prod', [...problems, error instanceof Error ? error.message : String(error)]);
  } finally {
    for (const part of parts) if (part.running()) part.kill('SIGKILL');
    if (usedRedis) await deleteKeys(redisUrl, prefix).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const wants = (check: string) => asked.length === 0 || asked.includes(check);
  for (const name of asked)
    if (!['compose', 'prometheus', 'prod'].includes(name)) {
      console.error(`check-containers: unknown check "${name}" (compose, prometheus, prod)`);
      process.exit(64);
    }
  // prometheus reads the ports from the compose result, so compose runs first when both are asked.
  if (wants('compose')) checkCompose();
  if (wants('prometheus')) checkPrometheus();
  if (wants('prod')) await checkProd();
  if (failed.length > 0) {
    console.log(`containers: FAILED: ${failed.join(', ')}`);
    process.exit(1);
  }
}

await main();
