/**
 * Import rules checked in `npm test` (and `npm run check`), over every workspace member: apps/*,
 * packages/* and tools/* (their src/ and test/):
 * - no circular imports, between files of a member or between members;
 * - a relative import stays inside its member: another member is imported by its package name,
 *   never by source path (`../../packages/ledger/src/...`);
 * - no deep imports across members (`@rechargeflow/x/...`): what another member needs is exported
 *   from its index.ts;
 * - layering: packages import only packages; apps import packages (apps are deployables, never
 *   dependencies); tools (bench, chaos, tooling) import packages and apps, never another tool;
 * - the domain package imports no infrastructure (BullMQ, ioredis, mongoose, Fastify, prom-client,
 *   undici, pino);
 * - a dependency (workspace or third-party) is imported only where package.json declares it;
 * - tools start processes only through the testkit's launcher (no `node:child_process` in tools/);
 * - a tool declares devDependencies only: the image's `pnpm install --prod` installs nothing of it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { REPO_ROOT as root } from '@rechargeflow/testkit';

const INFRA = ['bullmq', 'ioredis', 'mongoose', 'mongodb', 'fastify', 'prom-client', 'undici', 'pino'];
const KINDS = { apps: 'app', packages: 'package', tools: 'tool' } as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];
/** Which kinds of member each kind may import. */
const MAY_IMPORT: Record<Kind, readonly Kind[]> = {
  package: ['package'],
  app: ['package'],
  tool: ['package', 'app'],
};
const WHY: Record<Kind, string> = {
  package: 'packages import only packages',
  app: 'apps import only packages; an app is a deployable, never a dependency',
  tool: 'tools import packages and apps, never another tool (shared helpers belong in the testkit)',
};
const problems: string[] = [];

interface Unit {
  name: string;
  dir: string;
  kind: Kind;
  declared: Set<string>;
}

function units(): Unit[] {
  const out: Unit[] = [];
  for (const [folder, kind] of Object.entries(KINDS)) {
    for (const entry of safe(() => readdirSync(join(root, folder)))) {
      const dir = join(root, folder, entry);
      const pkgPath = join(dir, 'package.json');
      try {
        const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
        if (kind === 'tool' && Object.keys(pkg.dependencies ?? {}).length > 0)
          problems.push(
            `${relative(root, pkgPath)}: a tool's dependencies go under devDependencies (the image installs --prod)`,
          );
        out.push({
          name: pkg.name,
          dir,
          kind,
          declared: new Set([
            ...Object.keys(pkg.dependencies ?? {}),
            ...Object.keys(pkg.devDependencies ?? {}),
          ]),
        });
      } catch {
        // not a workspace member
      }
    }
  }
  return out;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

const IMPORT =
  /(?:^|[\n;])\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT)) found.push((m[1] ?? m[2] ?? m[3]) as string);
  return found;
}

/**
 * A path written into code that reaches into another member's sources (`../../packages/queue/src`),
 * e.g. for createRequire or a spawned file: the same escape as a relative import.
 */
const SOURCE_PATH = /(['"])(?:\.\.\/)+(?:apps|packages|tools)\/[^'"]*\1/g;

function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return null;
}

const all = units();
const byName = new Map(all.map((u) => [u.name, u]));
const packageGraph = new Map<string, Set<string>>();

for (const unit of all) {
  const fileGraph = new Map<string, Set<string>>();
  const deps = new Set<string>();
  packageGraph.set(unit.name, deps);
  for (const file of [...tsFiles(join(unit.dir, 'src')), ...safe(() => tsFiles(join(unit.dir, 'test')))]) {
    const rel = relative(root, file);
    const edges = new Set<string>();
    fileGraph.set(file, edges);
    const specs = importsOf(file);
    for (const [literal] of readFileSync(file, 'utf8').matchAll(SOURCE_PATH))
      if (!specs.includes(literal.slice(1, -1)))
        problems.push(
          `${rel}: names another member's sources by path (${literal}); import it by package name`,
        );
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(unit.dir + sep))
          problems.push(
            `${rel}: "${spec}" leaves ${relative(root, unit.dir)}; import another member by package name`,
          );
        edges.add(target);
        continue;
      }
      const bare = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] as string);
      if (spec.startsWith('@rechargeflow/')) {
        if (spec !== bare) problems.push(`${rel}: deep import "${spec}"; import "${bare}" instead`);
        const target = byName.get(bare);
        if (!target) problems.push(`${rel}: imports unknown workspace package "${bare}"`);
        else if (bare !== unit.name && !MAY_IMPORT[unit.kind].includes(target.kind))
          problems.push(`${rel}: a ${unit.kind} imports the ${target.kind} "${bare}"; ${WHY[unit.kind]}`);
        if (bare !== unit.name) deps.add(bare);
      }
      if (unit.name === '@rechargeflow/domain' && INFRA.includes(bare)) {
        problems.push(`${rel}: the domain package must not import infrastructure ("${bare}")`);
      }
      if (unit.kind === 'tool' && (spec === 'node:child_process' || spec === 'child_process')) {
        problems.push(
          `${rel}: imports node:child_process; tools start processes through @rechargeflow/testkit (startProcess, startApp, runCommand)`,
        );
      }
      if (
        !spec.startsWith('node:') &&
        !unit.declared.has(bare) &&
        bare !== unit.name &&
        !isRootDevTool(bare)
      ) {
        problems.push(`${rel}: imports "${bare}" which ${unit.name}'s package.json does not declare`);
      }
    }
  }
  const cycle = findCycle(fileGraph);
  if (cycle)
    problems.push(`circular import in ${unit.name}: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);
}
const cycle = findCycle(packageGraph);
if (cycle) problems.push(`circular dependency between packages: ${cycle.join(' -> ')}`);

function safe<T>(fn: () => T[]): T[] {
  try {
    return fn();
  } catch {
    return [];
  }
}

/** Test tooling installed once at the root. */
function isRootDevTool(name: string): boolean {
  return name === 'vitest';
}

if (problems.length > 0) {
  console.error(`import check: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
const counts = Object.values(KINDS)
  .map((kind) => `${all.filter((u) => u.kind === kind).length} ${kind}s`)
  .join(', ');
console.log(`import check: ${all.length} workspace members (${counts}), no cycles, layering respected`);
