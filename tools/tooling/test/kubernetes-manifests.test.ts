import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApiConfig } from '@rechargeflow/api-app';
import { createMetrics, registerSystemGauges } from '@rechargeflow/observability';
import { loadPollerConfig } from '@rechargeflow/poller-app';
import { JOB_CATALOGUE, JOB_STATES, queueNameFor } from '@rechargeflow/queue';
import { WORKER_PROCESSES, type WorkerProcessName, workerQueuesOf } from '@rechargeflow/runtime';
import { parseSimulatorConfig } from '@rechargeflow/simulator-app';
import { installed, REPO_ROOT, runCommand } from '@rechargeflow/testkit';
import { loadWorkerConfig } from '@rechargeflow/worker-app';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

// deploy/kubernetes (issue 17), rendered as an operator would (`kubectl kustomize`) and read back:
// each part's environment through its own config schema, no secret in any file, probes, resources,
// disruption budgets, grace periods, security contexts, network policies, the KEDA triggers against
// the series the poller's code exports, the worker app's two processes (worker, importer) against
// WORKER_PROCESSES (@rechargeflow/runtime), and the demo against docker/compose.yaml.

const KUBE_DIR = join(REPO_ROOT, 'deploy/kubernetes');
const RENDERINGS = [
  'base',
  ...readdirSync(join(KUBE_DIR, 'overlays')).map((overlay) => `overlays/${overlay}`),
];
const PARTS = ['api', 'worker', 'importer', 'poller', 'simulator'] as const;
type Part = (typeof PARTS)[number];

/** `KUBECTL` (a path), else the one on PATH. Debian's `kubernetes-client` (1.20) is enough. */
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const HAVE_KUBECTL = installed(KUBECTL, ['version', '--client']);
const IN_CI = process.env.CI === 'true';
if (!HAVE_KUBECTL)
  console.log(
    'kubernetes manifests: SKIPPED (kubectl not installed; apt-get install kubernetes-client)' +
      (IN_CI ? ' — FAILS in CI' : ''),
  );

// ---- reading what kubectl and compose give -------------------------------------------------------

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function arr(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

function str(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

interface K8sObject {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly raw: Json;
}

function render(dir: string): K8sObject[] {
  const result = runCommand(KUBECTL, ['kustomize', join(KUBE_DIR, dir)], { timeoutMs: 60_000 });
  // A current kubectl warns about `bases:` on stderr (kept for kustomize 2.0.3); only the exit counts.
  if (!result.ok) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => obj(doc.toJS()))
    .filter((raw) => raw.kind !== undefined)
    .map((raw) => ({
      kind: str(raw.kind),
      name: str(obj(raw.metadata).name),
      namespace: str(obj(raw.metadata).namespace),
      raw,
    }));
}

/** docker/compose.yaml with its defaults: `${NAME:-default}` as the default, `${NAME}` as nothing. */
function composeServices(): Json {
  const text = readFileSync(join(REPO_ROOT, 'docker/compose.yaml'), 'utf8');
  const interpolate = (value: unknown): unknown => {
    if (typeof value === 'string')
      return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_, _name, fallback) => fallback ?? '');
    if (Array.isArray(value)) return value.map(interpolate);
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v)]));
    return value;
  };
  return obj(obj(interpolate(parse(text, { merge: true }))).services);
}

// ---- one container's environment ---------------------------------------------------------------

/** Values for secretKeyRefs that each schema accepts (the real ones live in the operator's Secret). */
const SECRET_STAND_INS: Record<string, string> = {
  REDIS_URL: 'redis://redis:6379',
  MONGO_URL: 'mongodb://mongo:27017/rechargeflow?replicaSet=rs0&w=majority',
  API_KEYS: 'k8s-check:k8s-check-client-key-0123',
  CALLBACK_TOKEN: 'k8s-check-callback-token',
  WEBHOOK_SIGNING_SECRET: 'k8s-check-webhook-signing-secret-0123456789',
  SIM_CALLBACK_URL: 'http://api:8080/callbacks/a1topup/k8s-check-callback-token',
  TELGOO5_PIN: '1234',
};

/**
 * Variables whose value is a credential or may carry one: they must come from the Secret. The
 * logger's list (`*_PASSWORD`, `*_PIN`, `*_SECRET`, tokens, keys, storage URLs) plus the provider
 * account names the manifests keep beside their passwords.
 */
const SECRET_VARIABLE =
  /(_PASSWORD|_PIN|_SECRET|_TOKEN|_USERNAME|_VENDOR_ID|_AGENT_ID)$|^(API_KEYS|REDIS_URL|MONGO_URL|SIM_CALLBACK_URL|LEDGER_REDIS_URL|QUEUE_REDIS_URL|QUEUE_REDIS_CLUSTER_NODES)$/;

interface Variable {
  readonly name: string;
  readonly from: 'literal' | 'configMap' | 'secret';
  /** The literal or ConfigMap value; for a secret, a stand-in. */
  readonly value: string;
  readonly optional: boolean;
}

function containerEnv(
  container: Json,
  objects: readonly K8sObject[],
): { vars: Variable[]; problems: string[] } {
  const problems: string[] = [];
  const configMap = (name: string): Json | undefined =>
    objects.find((o) => o.kind === 'ConfigMap' && o.name === name)?.raw;
  const vars: Variable[] = [];
  for (const source of arr(container.envFrom)) {
    const ref = obj(source.configMapRef);
    if (source.secretRef) problems.push('envFrom secretRef: name each secret variable with a secretKeyRef');
    const map = configMap(str(ref.name));
    if (!map) {
      problems.push(`envFrom names ConfigMap ${str(ref.name)}, which the rendering does not contain`);
      continue;
    }
    for (const [name, value] of Object.entries(obj(map.data)))
      vars.push({ name, from: 'configMap', value: str(value), optional: false });
  }
  for (const entry of arr(container.env)) {
    const name = str(entry.name);
    const valueFrom = obj(entry.valueFrom);
    if ('value' in entry) vars.push({ name, from: 'literal', value: str(entry.value), optional: false });
    else if (valueFrom.secretKeyRef) {
      const ref = obj(valueFrom.secretKeyRef);
      if (str(ref.key) !== name)
        problems.push(`${name} reads Secret key ${str(ref.key)}: use the variable's name`);
      if (str(ref.name) !== 'rechargeflow')
        problems.push(`${name} reads Secret ${str(ref.name)}, not "rechargeflow"`);
      vars.push({
        name,
        from: 'secret',
        value: SECRET_STAND_INS[name] ?? 'k8s-check-stand-in',
        optional: ref.optional === true,
      });
    } else if (valueFrom.configMapKeyRef) {
      const ref = obj(valueFrom.configMapKeyRef);
      const value = obj(configMap(str(ref.name))?.data)[str(ref.key)];
      if (value === undefined)
        problems.push(`${name}: ConfigMap ${str(ref.name)} has no key ${str(ref.key)}`);
      vars.push({ name, from: 'configMap', value: str(value), optional: false });
    } else problems.push(`${name}: set neither by value, ConfigMap nor Secret`);
  }
  const seen = new Set<string>();
  for (const v of vars) {
    if (seen.has(v.name)) problems.push(`${v.name} is set twice`);
    seen.add(v.name);
  }
  return { vars, problems };
}

const LOADERS: Record<Part, (env: Record<string, string | undefined>) => object> = {
  api: loadApiConfig,
  worker: loadWorkerConfig,
  // The worker app, consuming CSV batches only (WORKER_QUEUES): the same schema.
  importer: loadWorkerConfig,
  poller: loadPollerConfig,
  simulator: parseSimulatorConfig,
};

/** The part's config as it starts with this environment (optional Secret keys present or not). */
function loadPart(part: Part, vars: readonly Variable[], withOptional: boolean): Record<string, unknown> {
  const env = Object.fromEntries(
    vars.filter((v) => withOptional || !v.optional).map((v) => [v.name, v.value]),
  );
  return LOADERS[part](env) as Record<string, unknown>;
}

// ---- quantities ---------------------------------------------------------------------------------

function cpuMillis(value: unknown): number {
  const text = str(value);
  return text.endsWith('m') ? Number(text.slice(0, -1)) : Number(text) * 1000;
}

function memoryBytes(value: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(str(value));
  if (!match) return Number.NaN;
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

// ---- the workloads of a rendering ----------------------------------------------------------------

interface Workload {
  readonly part: Part;
  readonly deployment: Json;
  readonly pod: Json;
  readonly labels: Record<string, string>;
  readonly container: Json;
}

function labelsOf(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(value)).map(([k, v]) => [k, str(v)]));
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment')
    .map((o) => {
      const template = obj(obj(o.raw.spec).template);
      const pod = obj(template.spec);
      return {
        part: o.name as Part,
        deployment: o.raw,
        pod,
        labels: labelsOf(obj(template.metadata).labels),
        container: arr(pod.containers)[0] ?? {},
      };
    });
}

/** A probe's or a Service's port (a number or the name of a containerPort) as a number. */
function portNumber(container: Json, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = arr(container.ports).find((p) => p.name === port);
  return named ? Number(named.containerPort) : Number(port);
}

/** Every string anywhere in `value`. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(strings);
  return [];
}

// ---- the series the poller's code exports --------------------------------------------------------

interface Series {
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** The poller's system gauges as its code registers them, for the given providers' queues. */
async function exportedSeries(providers: readonly string[]): Promise<Series[]> {
  const metrics = createMetrics('poller');
  const jobs = Object.fromEntries(JOB_STATES.map((state) => [state, 1]));
  registerSystemGauges(metrics, {
    queues: async () =>
      providers.map((p) => ({ queue: queueNameFor(JOB_CATALOGUE.recharge.queue, p), jobs, workers: 1 })),
    ordersIn: async () => ({ count: 0, oldestChangeAt: null }),
    balances: async () => [],
    breakers: async () => [],
  });
  const text = await metrics.registry.metrics();
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, name = '', body = ''] = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line) ?? [];
      const labels = Object.fromEntries(
        [...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k = '', v = '']) => [k, v]),
      );
      return { name, labels };
    });
}

interface Selector {
  readonly name: string;
  readonly matchers: readonly { label: string; op: string; value: string }[];
}

/** The series selectors of a PromQL expression (`metric{label="v",...}`). */
function selectors(query: string): Selector[] {
  return [...query.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)].map(([, name = '', body = '']) => ({
    name,
    matchers: [...body.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
      ([, label = '', op = '', value = '']) => ({
        label,
        op,
        value,
      }),
    ),
  }));
}

function selects(selector: Selector, series: Series): boolean {
  if (series.name !== selector.name) return false;
  return selector.matchers.every(({ label, op, value }) => {
    const actual = series.labels[label] ?? '';
    if (op === '=') return actual === value;
    if (op === '!=') return actual !== value;
    const regex = new RegExp(`^(?:${value})$`);
    return op === '=~' ? regex.test(actual) : !regex.test(actual);
  });
}

// ---- the resources table of docs/deployment.md ---------------------------------------------------

interface DocumentedResources {
  readonly peakBytes: number;
  readonly requests: readonly [string, string];
  readonly limits: readonly [string, string];
}

/** Rows `| \`part\` | measured with **N MB** peak | \`cpu\` / \`mem\` | \`cpu\` / \`mem\` |`. */
function documentedResources(): Map<string, DocumentedResources> {
  const text = readFileSync(join(REPO_ROOT, 'docs/deployment.md'), 'utf8');
  const start = text.indexOf('\n### Resources\n');
  const section = text.slice(start, text.indexOf('\n### ', start + 1));
  const rows = new Map<string, DocumentedResources>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const part = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (!part) continue;
    const peak = /\*\*(\d+) MB\*\*/.exec(cells[2] ?? '')?.[1];
    const pair = (cell = '') => [...cell.matchAll(/`([^`]+)`/g)].map(([, v = '']) => v) as [string, string];
    rows.set(part, { peakBytes: Number(peak) * 1e6, requests: pair(cells[3]), limits: pair(cells[4]) });
  }
  return rows;
}

/** The worker app's entry point; each of its processes is its Node flags and this. */
const WORKER_MAIN = 'apps/worker/src/main.ts';

// ---- the checks ----------------------------------------------------------------------------------

const rendered = new Map<string, K8sObject[]>();
const compose = composeServices();

describe.skipIf(!HAVE_KUBECTL)(
  'Kubernetes manifests (deploy/kubernetes), rendered by kubectl kustomize',
  () => {
    beforeAll(() => {
      for (const dir of RENDERINGS) rendered.set(dir, render(dir));
    }, 120_000);

    const get = (dir: string) => rendered.get(dir) ?? [];

    it('renders the base and every overlay into one namespace, with the parts each is meant to run', () => {
      expect(RENDERINGS).toEqual(
        expect.arrayContaining(['base', 'overlays/demo', 'overlays/autoscaling', 'overlays/hpa']),
      );
      for (const dir of RENDERINGS) {
        const objects = get(dir);
        expect(objects.length, dir).toBeGreaterThan(0);
        for (const o of objects.filter((o) => o.kind !== 'Namespace'))
          expect(o.namespace, `${dir}: ${o.kind} ${o.name}`).toBe('rechargeflow');
        const parts = workloads(objects)
          .map((w) => w.part)
          .sort();
        // The simulator stands in for the providers: only the demo runs it.
        expect(parts, dir).toEqual(
          dir === 'overlays/demo' ? [...PARTS].sort() : ['api', 'importer', 'poller', 'worker'],
        );
      }
    });

    it.each(RENDERINGS)('%s: no Secret and no secret value; credentials only by secretKeyRef', (dir) => {
      const objects = get(dir);
      expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.name)).toEqual([]);
      const problems: string[] = [];
      for (const map of objects.filter((o) => o.kind === 'ConfigMap'))
        for (const key of Object.keys(obj(map.raw.data)))
          if (SECRET_VARIABLE.test(key)) problems.push(`ConfigMap ${map.name} holds ${key}`);
      for (const w of workloads(objects)) {
        const { vars } = containerEnv(w.container, objects);
        for (const v of vars)
          if (SECRET_VARIABLE.test(v.name) && v.from !== 'secret')
            problems.push(`${w.part}: ${v.name} is a ${v.from}, not a secretKeyRef`);
      }
      // Nothing that looks like a credential anywhere: no demo CHANGE-ME values, no password in a URL,
      // none of compose's demo secrets.
      const composeSecrets = Object.values(compose)
        .flatMap((service) => Object.entries(obj(obj(service).environment)))
        .filter(([name, value]) => SECRET_VARIABLE.test(name) && str(value).length >= 8)
        .map(([, value]) => str(value));
      for (const o of objects)
        for (const text of strings(o.raw)) {
          if (/CHANGE-ME/i.test(text)) problems.push(`${o.kind} ${o.name}: "${text}"`);
          if (/:\/\/[^/@\s:]*:[^/@\s]+@/.test(text))
            problems.push(`${o.kind} ${o.name}: a URL with a password`);
          for (const secret of composeSecrets)
            if (text.includes(secret)) problems.push(`${o.kind} ${o.name} carries compose's demo secret`);
        }
      expect(problems).toEqual([]);
    });

    it.each(RENDERINGS)(
      "%s: each part's environment passes its config schema, every variable known to it",
      (dir) => {
        const objects = get(dir);
        for (const w of workloads(objects)) {
          const { vars, problems } = containerEnv(w.container, objects);
          expect(problems, `${dir}: ${w.part}`).toEqual([]);
          const config = loadPart(w.part, vars, true);
          const unknown = vars.filter((v) => !(v.name in config)).map((v) => v.name);
          expect(unknown, `${dir}: ${w.part} sets variables its config does not define`).toEqual([]);
          // Without the optional Secret keys (the operator's minimum) the part starts, or refuses naming
          // only keys left out (a provider in PROVIDERS without its credentials).
          const omitted = vars.filter((v) => v.optional).map((v) => v.name);
          try {
            loadPart(w.part, vars, false);
          } catch (error) {
            const problems = (error as { problems?: readonly string[] }).problems ?? [String(error)];
            expect(
              problems.filter((problem) => !omitted.some((name) => problem.includes(name))),
              `${dir}: ${w.part} without its optional Secret keys`,
            ).toEqual([]);
          }
        }
      },
    );

    it.each(RENDERINGS)('%s: image, command, ports and probes are the ones each part serves', (dir) => {
      const objects = get(dir);
      const dockerfile = readFileSync(join(REPO_ROOT, 'docker/Dockerfile'), 'utf8');
      expect(dockerfile).toMatch(/^ENTRYPOINT \["node"\]$/m);
      // The endpoints probed, where the code serves them.
      const api = readFileSync(join(REPO_ROOT, 'packages/http/src/build-api.ts'), 'utf8');
      expect(api).toContain("'/healthz'");
      expect(api).toContain("'/readyz'");
      expect(readFileSync(join(REPO_ROOT, 'packages/observability/src/metrics-server.ts'), 'utf8')).toContain(
        "'/metrics'",
      );
      for (const w of workloads(objects)) {
        const where = `${dir}: ${w.part}`;
        const c = w.container;
        expect(arr(w.pod.containers).length, where).toBe(1);
        expect(str(c.image), where).toBe(str(obj(compose[w.part]).image));
        expect(Array.isArray(c.args) ? c.args.map(str) : [], where).toEqual(
          (obj(compose[w.part]).command as unknown[]).map(str),
        );
        expect(c.command, `${where}: keep the image's entrypoint (node)`).toBeUndefined();
        const config = loadPart(w.part, containerEnv(c, objects).vars, true);
        const want: Record<Part, { ports: number[]; ready: [number, string]; live: [number, string] }> = {
          api: {
            ports: [Number(config.PORT), Number(config.METRICS_PORT)],
            ready: [Number(config.PORT), '/readyz'],
            live: [Number(config.PORT), '/healthz'],
          },
          worker: {
            ports: [Number(config.METRICS_PORT)],
            ready: [Number(config.METRICS_PORT), '/metrics'],
            live: [Number(config.METRICS_PORT), '/metrics'],
          },
          importer: {
            ports: [Number(config.METRICS_PORT)],
            ready: [Number(config.METRICS_PORT), '/metrics'],
            live: [Number(config.METRICS_PORT), '/metrics'],
          },
          poller: {
            ports: [Number(config.METRICS_PORT)],
            ready: [Number(config.METRICS_PORT), '/metrics'],
            live: [Number(config.METRICS_PORT), '/metrics'],
          },
          simulator: {
            ports: [Number(config.SIMULATOR_PORT)],
            ready: [Number(config.SIMULATOR_PORT), '/_sim/stats'],
            live: [Number(config.SIMULATOR_PORT), '/_sim/stats'],
          },
        };
        const expected = want[w.part];
        expect(
          expected.ports.every((p) => p > 0),
          `${where}: listens on ${expected.ports}`,
        ).toBe(true);
        const hostKey =
          w.part === 'simulator' ? 'SIMULATOR_HOST' : w.part === 'api' ? 'HOST' : 'METRICS_HOST';
        expect(config[hostKey], `${where}: ${hostKey}`).toBe('0.0.0.0');
        if (w.part === 'api') expect(config.METRICS_HOST, where).toBe('0.0.0.0');
        expect(
          arr(c.ports)
            .map((p) => Number(p.containerPort))
            .sort(),
          where,
        ).toEqual([...expected.ports].sort());
        for (const [kind, [port, path]] of [
          ['readinessProbe', expected.ready],
          ['livenessProbe', expected.live],
        ] as const) {
          const probe = obj(obj(c[kind]).httpGet);
          expect(str(probe.path), `${where}: ${kind}`).toBe(path);
          expect(portNumber(c, probe.port), `${where}: ${kind}`).toBe(port);
        }
        const startup = obj(obj(c.startupProbe).httpGet);
        if (Object.keys(startup).length > 0)
          expect(portNumber(c, startup.port), where).toBe(expected.live[0]);
        // A Service of the part's name serves each port, so names such as http://simulator:4010 resolve.
        const service = objects.find((o) => o.kind === 'Service' && o.name === w.part);
        expect(service, `${where}: Service ${w.part}`).toBeDefined();
        const spec = obj(service?.raw.spec);
        expect(matches(labelsOf(spec.selector), w.labels), `${where}: Service selects the pods`).toBe(true);
        expect(
          arr(spec.ports)
            .map((p) => portNumber(c, p.targetPort))
            .sort(),
          where,
        ).toEqual([...expected.ports].sort());
      }
      // Every in-cluster URL the parts are given names a Service of the rendering and its port.
      const services = objects.filter((o) => o.kind === 'Service');
      for (const w of workloads(objects))
        for (const v of containerEnv(w.container, objects).vars) {
          if (v.from === 'secret' || !/^https?:\/\//.test(v.value)) continue;
          const url = new URL(v.value);
          if (url.hostname.includes('.')) continue;
          const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
          const service = services.find((s) => s.name === url.hostname);
          expect(
            arr(obj(service?.raw.spec).ports).some((p) => Number(p.port) === port),
            `${dir}: ${w.part}'s ${v.name} (${v.value}) names no Service port`,
          ).toBe(true);
        }
    });

    it.each(RENDERINGS)('%s: resources as documented, covering the measured peaks', (dir) => {
      const documented = documentedResources();
      for (const w of workloads(get(dir))) {
        const where = `${dir}: ${w.part}`;
        const resources = obj(w.container.resources);
        const requests = obj(resources.requests);
        const limits = obj(resources.limits);
        const doc = documented.get(w.part);
        expect(doc, `${where}: a row in docs/deployment.md, "Resources"`).toBeDefined();
        if (!doc) continue;
        expect([str(requests.cpu), str(requests.memory)], `${where}: requests`).toEqual(doc.requests);
        expect([str(limits.cpu), str(limits.memory)], `${where}: limits`).toEqual(doc.limits);
        const peakBytes = doc.peakBytes;
        expect(cpuMillis(requests.cpu), where).toBeGreaterThan(0);
        expect(cpuMillis(requests.cpu), where).toBeLessThanOrEqual(cpuMillis(limits.cpu));
        // A Node process runs its JavaScript on one core: replicas, not a larger limit.
        expect(cpuMillis(limits.cpu), `${where}: CPU limit above one core`).toBeLessThanOrEqual(1000);
        expect(memoryBytes(requests.memory), where).toBeLessThanOrEqual(memoryBytes(limits.memory));
        expect(
          memoryBytes(requests.memory),
          `${where}: memory request below the measured peak`,
        ).toBeGreaterThanOrEqual(peakBytes);
      }
      // The worker app's memory limits as compose's (mem_limit: worker 512m, importer 384m).
      for (const part of ['worker', 'importer'] as const) {
        const w = workloads(get(dir)).find((w) => w.part === part);
        const composeLimit = /^(\d+)m$/.exec(str(obj(compose[part]).mem_limit))?.[1];
        expect(composeLimit, `compose's ${part}: mem_limit in m`).toBeDefined();
        expect(str(obj(obj(w?.container.resources).limits).memory), `${dir}: ${part}`).toBe(
          `${composeLimit}Mi`,
        );
      }
    });

    it.each(RENDERINGS)(
      '%s: grace period longer than preStop plus the drain deadline; a PDB per part',
      (dir) => {
        const objects = get(dir);
        const all = workloads(objects);
        const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
        for (const w of all) {
          const where = `${dir}: ${w.part}`;
          const config = loadPart(w.part, containerEnv(w.container, objects).vars, true);
          const drainMs = Number(config.SHUTDOWN_TIMEOUT_MS);
          const preStop = arr(obj(obj(obj(w.container.lifecycle).preStop).exec).command).length
            ? ((obj(obj(w.container.lifecycle).preStop).exec as Json).command as unknown[]).map(str)
            : [];
          const preStopMs = preStop[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
          expect(preStop.length === 0 || preStop[0] === 'sleep', `${where}: preStop ${preStop}`).toBe(true);
          expect(drainMs, where).toBeGreaterThan(0);
          expect(Number(w.pod.terminationGracePeriodSeconds) * 1000, where).toBeGreaterThan(
            preStopMs + drainMs,
          );

          const mine = pdbs.filter((p) =>
            matches(labelsOf(obj(obj(p.raw.spec).selector).matchLabels), w.labels),
          );
          expect(mine.length, `${where}: PodDisruptionBudgets selecting its pods`).toBe(1);
          const spec = obj(mine[0]?.raw.spec);
          const selector = labelsOf(obj(spec.selector).matchLabels);
          expect(Object.keys(selector).length, where).toBeGreaterThan(0);
          for (const other of all.filter((o) => o !== w))
            expect(matches(selector, other.labels), `${where}: its PDB also selects ${other.part}`).toBe(
              false,
            );
          // It lets a drain proceed: one may go at any replica count.
          expect(spec.minAvailable, where).toBeUndefined();
          expect(Number(spec.maxUnavailable), where).toBeGreaterThanOrEqual(1);
          // The Deployment selects exactly its template's pods.
          expect(matches(labelsOf(obj(obj(w.deployment.spec).selector).matchLabels), w.labels), where).toBe(
            true,
          );
        }
      },
    );

    it.each(RENDERINGS)("%s: every pod runs as the image's non-root user, locked down", (dir) => {
      const objects = get(dir);
      const dockerfile = readFileSync(join(REPO_ROOT, 'docker/Dockerfile'), 'utf8');
      // The Node images' `node` user is uid/gid 1000.
      expect([...dockerfile.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1]).toBe('node');
      const namespace = objects.find((o) => o.kind === 'Namespace');
      expect(labelsOf(obj(namespace?.raw.metadata).labels)['pod-security.kubernetes.io/enforce']).toBe(
        'restricted',
      );
      const pods = objects
        .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
        .map((o) => ({
          name: o.name,
          pod: obj(obj(obj(o.raw.spec).template).spec),
          app: o.kind === 'Deployment',
        }));
      for (const { name, pod, app } of pods) {
        const podSecurity = obj(pod.securityContext);
        expect(pod.automountServiceAccountToken, name).toBe(false);
        expect(pod.enableServiceLinks, name).toBe(false);
        for (const container of [...arr(pod.containers), ...arr(pod.initContainers)]) {
          const where = `${dir}: ${name}/${str(container.name)}`;
          const security = obj(container.securityContext);
          const effective = { ...podSecurity, ...security };
          expect(effective.runAsNonRoot, where).toBe(true);
          if (app) {
            expect(effective.runAsUser, where).toBe(1000);
            expect(effective.runAsGroup, where).toBe(1000);
          } else expect(Number(effective.runAsUser), where).toBeGreaterThan(0);
          expect(security.allowPrivilegeEscalation, where).toBe(false);
          expect(security.readOnlyRootFilesystem, where).toBe(true);
          expect(obj(security.capabilities).drop, where).toEqual(['ALL']);
          expect(obj(security.capabilities).add, where).toBeUndefined();
          expect(security.privileged ?? false, where).toBe(false);
          expect(obj(effective.seccompProfile).type, where).toBe('RuntimeDefault');
        }
      }
    });

    it.each(RENDERINGS)('%s: NetworkPolicies let outside traffic reach the API port only', (dir) => {
      const objects = get(dir);
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => obj(o.raw.spec));
      const pods = objects
        .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
        .map((o) => {
          const template = obj(obj(o.raw.spec).template);
          return {
            name: o.name,
            labels: labelsOf(obj(template.metadata).labels),
            container: arr(obj(template.spec).containers)[0] ?? {},
          };
        });
      const inNamespace = (labels: Record<string, string>) => pods.filter((p) => matches(labels, p.labels));
      for (const pod of pods) {
        const mine = policies.filter(
          (p) =>
            matches(labelsOf(obj(p.podSelector).matchLabels), pod.labels) &&
            Array.isArray(p.policyTypes) &&
            p.policyTypes.map(str).includes('Ingress'),
        );
        expect(mine.length, `${dir}: ${pod.name} is selected by an Ingress policy`).toBeGreaterThan(0);
        for (const rule of mine.flatMap((p) => arr(p.ingress))) {
          const ports = arr(rule.ports).map((p) => portNumber(pod.container, p.port));
          const named = arr(rule.ports).map((p) => str(p.port));
          const from = arr(rule.from);
          const where = `${dir}: ${pod.name} admits ${JSON.stringify(rule)}`;
          expect(ports.length, `${where}: name the ports`).toBeGreaterThan(0);
          if (from.length === 0) {
            // From anywhere: only the API's public port.
            expect(pod.name, where).toBe('api');
            expect(named, where).toEqual(['http']);
            expect(ports, where).toEqual([8080]);
            continue;
          }
          for (const peer of from) {
            expect(peer.ipBlock, `${where}: no address blocks`).toBeUndefined();
            const namespaces = peer.namespaceSelector;
            if (namespaces !== undefined) {
              // Another namespace: Prometheus in `monitoring`, on the metrics port only.
              expect(labelsOf(obj(namespaces).matchLabels), where).toEqual({
                'kubernetes.io/metadata.name': 'monitoring',
              });
              expect(peer.podSelector, where).toBeUndefined();
              expect(named, where).toEqual(['metrics']);
            } else {
              // This namespace: named parts of Rechargeflow.
              const selector = labelsOf(obj(peer.podSelector).matchLabels);
              expect(Object.keys(selector).length, `${where}: not every pod`).toBeGreaterThan(0);
              expect(inNamespace(selector).length, `${where}: selects a part`).toBeGreaterThan(0);
            }
          }
        }
      }
      // Workers, the importer and the poller admit nothing but the metrics scrape.
      for (const name of ['worker', 'importer', 'poller']) {
        const pod = pods.find((p) => p.name === name);
        const rules = policies
          .filter((p) => pod && matches(labelsOf(obj(p.podSelector).matchLabels), pod.labels))
          .flatMap((p) => arr(p.ingress));
        expect(
          rules.flatMap((r) => arr(r.ports).map((p) => str(p.port))),
          `${dir}: ${name}`,
        ).toEqual(['metrics']);
      }
      // A Redis of the rendering (the demo's) admits every part that reads REDIS_URL, on its port.
      const redis = pods.find((p) => p.name === 'redis');
      if (redis) {
        const admitted = policies
          .filter((p) => matches(labelsOf(obj(p.podSelector).matchLabels), redis.labels))
          .flatMap((p) => arr(p.ingress))
          .filter((rule) => arr(rule.ports).some((p) => portNumber(redis.container, p.port) === 6379))
          .flatMap((rule) => arr(rule.from))
          .filter((peer) => peer.namespaceSelector === undefined && peer.podSelector !== undefined)
          .map((peer) => labelsOf(obj(peer.podSelector).matchLabels));
        for (const w of workloads(objects).filter((w) =>
          containerEnv(w.container, objects).vars.some((v) => v.name === 'REDIS_URL'),
        ))
          expect(
            admitted.some((selector) => matches(selector, w.labels)),
            `${dir}: Redis admits ${w.part}`,
          ).toBe(true);
      }
    });

    it.each(RENDERINGS)(
      '%s: at most one autoscaler on the workers, and the worker count left to it',
      (dir) => {
        const objects = get(dir);
        const scaled = objects.filter((o) => o.kind === 'ScaledObject');
        const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
        const targets = [
          ...scaled.map((o) => str(obj(obj(o.raw.spec).scaleTargetRef).name)),
          ...hpas.map((o) => str(obj(obj(o.raw.spec).scaleTargetRef).name)),
        ];
        expect(new Set(targets).size, `${dir}: two autoscalers on one Deployment`).toBe(targets.length);
        // Only the workers: the importer's count is fixed in its manifest (imports are not autoscaled).
        expect(
          targets.filter((target) => target !== 'worker'),
          dir,
        ).toEqual([]);
        const importer = workloads(objects).find((w) => w.part === 'importer');
        expect(
          Number(obj(importer?.deployment.spec).replicas),
          `${dir}: importer replicas`,
        ).toBeGreaterThanOrEqual(1);
        for (const target of targets)
          expect(
            workloads(objects).some((w) => w.part === target),
            `${dir}: ${target} exists`,
          ).toBe(true);
        // kubectl apply must not reset what the autoscaler (or kubectl scale) set.
        const worker = workloads(objects).find((w) => w.part === 'worker');
        expect(obj(worker?.deployment.spec).replicas, dir).toBeUndefined();
        if (dir === 'overlays/autoscaling') expect(scaled.length).toBe(1);
        if (dir === 'overlays/hpa') {
          expect(scaled.length).toBe(0);
          expect(hpas.length).toBe(1);
          const spec = obj(hpas[0]?.raw.spec);
          const metric = arr(spec.metrics)[0] ?? {};
          expect(str(obj(metric.resource).name)).toBe('cpu');
          expect(Number(spec.minReplicas)).toBeGreaterThanOrEqual(1);
          expect(Number(spec.maxReplicas)).toBeGreaterThan(Number(spec.minReplicas));
        }
      },
    );

    it.each(RENDERINGS)(
      '%s: the worker app runs as the processes WORKER_PROCESSES defines: Node flags and queues',
      (dir) => {
        const objects = get(dir);
        const all = workloads(objects);
        const names = Object.keys(WORKER_PROCESSES) as WorkerProcessName[];
        // Every Deployment of the worker app is one of its processes, and each process runs.
        expect(
          all
            .filter((w) => Array.isArray(w.container.args) && w.container.args.map(str).includes(WORKER_MAIN))
            .map((w) => w.part)
            .sort(),
          dir,
        ).toEqual([...names].sort());
        const consumed: string[] = [];
        let everyQueue: string[] = [];
        for (const name of names) {
          const where = `${dir}: ${name}`;
          const w = all.find((w) => w.part === name);
          expect(w, where).toBeDefined();
          if (!w) continue;
          // Its Node flags on the command line (V8 refuses some in NODE_OPTIONS), then the app.
          expect(Array.isArray(w.container.args) ? w.container.args.map(str) : [], `${where}: args`).toEqual([
            ...WORKER_PROCESSES[name].nodeFlags,
            WORKER_MAIN,
          ]);
          // WORKER_QUEUES set once, as WORKER_PROCESSES says: unset, the process would consume all.
          const { vars } = containerEnv(w.container, objects);
          expect(
            vars.filter((v) => v.name === 'WORKER_QUEUES').map((v) => v.value),
            `${where}: WORKER_QUEUES`,
          ).toEqual([workerQueuesOf(name)]);
          const queues = loadPart(name, vars, true).WORKER_QUEUES as string[];
          expect(queues, `${where}: the queues its config reads`).toEqual([...WORKER_PROCESSES[name].queues]);
          consumed.push(...queues);
          // The app's default (WORKER_QUEUES unset): every queue it can consume.
          everyQueue = loadPart(
            name,
            vars.filter((v) => v.name !== 'WORKER_QUEUES'),
            true,
          ).WORKER_QUEUES as string[];
        }
        // Between them, every queue is consumed, by one kind of process.
        expect(everyQueue.length, dir).toBeGreaterThan(0);
        expect([...consumed].sort(), dir).toEqual([...everyQueue].sort());
      },
    );

    it('KEDA scales the workers on queue-depth series the poller exports, CPU as fallback', async () => {
      const withKeda = RENDERINGS.filter((dir) => get(dir).some((o) => o.kind === 'ScaledObject'));
      expect(withKeda).toContain('overlays/autoscaling');
      for (const dir of withKeda) {
        const objects = get(dir);
        const scaledObjects = objects.filter((o) => o.kind === 'ScaledObject');
        const worker = workloads(objects).find((w) => w.part === 'worker');
        expect(worker, dir).toBeDefined();
        if (!worker) continue;
        const config = loadPart('worker', containerEnv(worker.container, objects).vars, true);
        const providers = (config.PROVIDERS as string[]).slice();
        const series = await exportedSeries(providers);
        for (const scaled of scaledObjects) {
          const spec = obj(scaled.raw.spec);
          expect(str(obj(spec.scaleTargetRef).name)).toBe('worker');
          expect(
            Number(spec.minReplicaCount),
            'never to zero: workers also send webhooks',
          ).toBeGreaterThanOrEqual(1);
          expect(
            spec.fallback,
            'a fixed fallback count would override the CPU trigger (kedacore/keda#6659)',
          ).toBeUndefined();
          const triggers = arr(spec.triggers);
          const cpu = triggers.filter((t) => t.type === 'cpu');
          expect(cpu.length, 'a CPU trigger').toBe(1);
          expect(str(cpu[0]?.metricType)).toBe('Utilization');
          // Utilization is of the CPU request, which must be set.
          expect(cpuMillis(obj(obj(worker.container.resources).requests).cpu)).toBeGreaterThan(0);
          const queues = new Map<string, string>();
          for (const trigger of triggers.filter((t) => t.type === 'prometheus')) {
            const metadata = obj(trigger.metadata);
            const query = str(metadata.query);
            const found = selectors(query);
            expect(found.length, query).toBeGreaterThan(0);
            for (const selector of found) {
              // The selector picks series the code exports; each alternative of a =~ matcher does too.
              expect(
                series.some((s) => selects(selector, s)),
                `${query} selects nothing the poller exports`,
              ).toBe(true);
              for (const m of selector.matchers.filter((m) => m.op === '=~'))
                for (const alternative of m.value.split('|'))
                  expect(
                    series.some((s) =>
                      selects({ name: selector.name, matchers: [{ ...m, op: '=', value: alternative }] }, s),
                    ),
                    `${query}: ${m.label}="${alternative}" is not exported`,
                  ).toBe(true);
              const queue = selector.matchers.find((m) => m.label === 'queue' && m.op === '=')?.value;
              expect(queue, `${query}: one queue per trigger`).toBeDefined();
              if (queue) queues.set(queue, str(metadata.threshold));
            }
          }
          // One trigger per provider queue, its threshold that provider's per-worker concurrency.
          expect([...queues.keys()].sort()).toEqual(
            providers.map((p) => queueNameFor(JOB_CATALOGUE.recharge.queue, p)).sort(),
          );
          for (const provider of providers)
            expect(
              queues.get(queueNameFor(JOB_CATALOGUE.recharge.queue, provider)),
              `threshold of ${provider} = ${provider.toUpperCase()}_CONCURRENCY`,
            ).toBe(String(config[`${provider.toUpperCase()}_CONCURRENCY`]));
        }
      }
    });

    it('the compose file and the manifests describe the same parts', () => {
      const fromImage = Object.entries(compose)
        .filter(([, service]) => str(obj(obj(service).build).dockerfile) === 'docker/Dockerfile')
        .map(([name]) => name)
        .sort();
      expect(fromImage).toEqual([...PARTS].sort());
      const demo = get('overlays/demo');
      expect(
        workloads(demo)
          .map((w) => w.part)
          .sort(),
      ).toEqual(fromImage);
      for (const dir of RENDERINGS) {
        const objects = get(dir);
        for (const w of workloads(objects)) {
          const where = `${dir}: ${w.part}`;
          const service = obj(compose[w.part]);
          const composeEnv = Object.fromEntries(
            Object.entries(obj(service.environment)).map(([k, v]) => [k, str(v)]),
          );
          const vars = containerEnv(w.container, objects).vars;
          // Kubernetes sets nothing compose does not know of.
          expect(
            vars.map((v) => v.name).filter((name) => !(name in composeEnv)),
            where,
          ).toEqual([]);
          // Same ports: what each part's config makes of either environment.
          const fromCompose = LOADERS[w.part](
            Object.fromEntries(Object.entries(composeEnv).map(([k, v]) => [k, v])),
          ) as Record<string, unknown>;
          const fromKube = loadPart(w.part, vars, true);
          for (const key of [
            'PORT',
            'HOST',
            'METRICS_PORT',
            'METRICS_HOST',
            'SIMULATOR_PORT',
            'SIMULATOR_HOST',
            'SHUTDOWN_TIMEOUT_MS',
          ])
            expect(fromKube[key], `${where}: ${key}`).toEqual(fromCompose[key]);
          // Stopping: the same grace as compose's stop_grace_period, or longer.
          const grace = /^(\d+)s$/.exec(str(service.stop_grace_period))?.[1];
          if (grace)
            expect(Number(w.pod.terminationGracePeriodSeconds), where).toBeGreaterThanOrEqual(Number(grace));
          if (dir !== 'overlays/demo') continue;
          // The demo is compose's system: every variable compose gives a value is set, to the same
          // value unless it is a secret (those come from the operator's Secret).
          const names = new Set(vars.map((v) => v.name));
          expect(
            Object.entries(composeEnv)
              .filter(([name, value]) => value !== '' && !names.has(name))
              .map(([name]) => name),
            `${where}: set by compose, missing here`,
          ).toEqual([]);
          for (const v of vars.filter((v) => v.from !== 'secret'))
            expect(`${v.name}=${v.value}`, where).toBe(`${v.name}=${composeEnv[v.name]}`);
        }
      }
      // The demo's Redis runs as compose's: append-only file and noeviction (every part checks both).
      const redis = demo.find((o) => o.kind === 'StatefulSet' && o.name === 'redis');
      const args = arr(obj(obj(obj(redis?.raw.spec).template).spec).containers)[0]?.args;
      const composeRedis = (obj(compose.redis).command as unknown[]).map(str);
      expect((args as unknown[]).map(str).join(' ')).toMatch(/--appendonly yes/);
      expect((args as unknown[]).map(str).join(' ')).toMatch(/--maxmemory-policy noeviction/);
      expect(composeRedis.join(' ')).toMatch(/--appendonly yes .*--maxmemory-policy noeviction/);
      expect(str(arr(obj(obj(obj(redis?.raw.spec).template).spec).containers)[0]?.image)).toBe(
        str(obj(compose.redis).image),
      );
    });
  },
);

describe.runIf(!HAVE_KUBECTL && IN_CI)('Kubernetes manifests in CI', () => {
  it('kubectl is installed (.ci/run installs kubernetes-client)', () => {
    expect(HAVE_KUBECTL, `${KUBECTL} version --client failed: install kubernetes-client`).toBe(true);
  });
});
