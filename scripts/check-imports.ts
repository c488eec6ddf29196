/**
 * Import rules checked in `npm test` (house style, DEVELOPERS.md):
 * - no circular imports, between files of a package or between packages;
 * - packages never import apps; no deep imports across packages (`@rechargeflow/x/...`);
 * - the domain package imports no infrastructure (BullMQ, ioredis, mongoose, Fastify, prom-client,
 *   undici, pino);
 * - a workspace package is imported only where package.json declares it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const INFRA = ['bullmq', 'ioredis', 'mongoose', 'mongodb', 'fastify', 'prom-client', 'undici', 'pino'];
const problems: string[] = [];

interface Unit {
  name: string;
  dir: string;
  kind: 'app' | 'package';
  declared: Set<string>;
}

function units(): Unit[] {
  const out: Unit[] = [];
  for (const kind of ['apps', 'packages'] as const) {
    for (const entry of readdirSync(join(root, kind))) {
      const dir = join(root, kind, entry);
      const pkgPath = join(dir, 'package.json');
      try {
        const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
        out.push({
          name: pkg.name,
          dir,
          kind: kind === 'apps' ? 'app' : 'package',
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
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) {
        edges.add(resolve(dirname(file), spec));
        continue;
      }
      const bare = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] as string);
      if (spec.startsWith('@rechargeflow/')) {
        if (spec !== bare) problems.push(`${rel}: deep import "${spec}"; import "${bare}" instead`);
        const target = byName.get(bare);
        if (!target) problems.push(`${rel}: imports unknown workspace package "${bare}"`);
        else if (target.kind === 'app')
          problems.push(`${rel}: imports the app "${bare}"; apps are deployables, never dependencies`);
        if (bare !== unit.name) deps.add(bare);
      }
      if (unit.name === '@rechargeflow/domain' && INFRA.includes(bare)) {
        problems.push(`${rel}: the domain package must not import infrastructure ("${bare}")`);
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
console.log(`import check: ${all.length} workspace members, no cycles, layering respected`);
