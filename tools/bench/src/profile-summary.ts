/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): per profile, the top functions by self time and
 * the self time by origin (a workspace package, a dependency, Node internals, GC, idle).
 * `node tools/bench/src/profile-summary.ts <dir> [top]` prints it for every .cpuprofile in <dir>.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Where a function comes from: `packages/ledger`, `bullmq`, `node:internal`, `(garbage collector)`… */
export function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const dep = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  const own = /\/(packages|apps|tools)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return 'node (internals)';
  return url;
}

function shortUrl(url: string): string {
  const own = /\/((?:packages|apps|tools)\/.*)$/.exec(url);
  if (own) return own[1]!;
  const dep = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(.*)$/.exec(url);
  return dep ? dep[1]! : url;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly busyMs: number;
  readonly top: { name: string; ms: number; share: number }[];
  readonly origins: { origin: string; ms: number; share: number }[];
  /** Self time charged to the nearest frame of a package (native and Node-internal frames to their caller). */
  readonly charged: { origin: string; ms: number; share: number }[];
}

const UNCHARGED = new Set(['(native)', 'node (internals)', '(program)', '(garbage collector)', '(root)']);

export function summariseProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const byCharged = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalMs += ms;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const name = url ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}` : functionName;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    const origin = originOf(url, functionName);
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + ms);
    // The nearest caller that belongs to a package (GC and the idle loop stay as they are).
    let charged = origin;
    if (origin === '(native)' || origin === 'node (internals)') {
      let up = parent.get(id);
      while (up !== undefined) {
        const frame = byId.get(up)?.callFrame;
        const o = frame ? originOf(frame.url, frame.functionName) : '(root)';
        if (!UNCHARGED.has(o)) {
          charged = o;
          break;
        }
        up = parent.get(up);
      }
      if (up === undefined) charged = `${origin}, no package caller (I/O callbacks, timers)`;
    }
    byCharged.set(charged, (byCharged.get(charged) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  const sorted = (m: Map<string, number>) => [...m.entries()].sort(([, a], [, b]) => b - a);
  return {
    file,
    totalMs,
    busyMs,
    top: sorted(byFunction)
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: ms / busyMs })),
    origins: sorted(byOrigin)
      .slice(0, 12)
      .map(([origin, ms]) => ({ origin, ms, share: ms / busyMs })),
    charged: sorted(byCharged)
      .slice(0, 12)
      .map(([origin, ms]) => ({ origin, ms, share: ms / busyMs })),
  };
}

/** Text lines summarising every profile in `dir` (for the console and the docs). */
export function summariseProfiles(dir: string, top = 20): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
  const lines: string[] = [];
  for (const file of files) {
    const s = summariseProfile(file, top);
    lines.push(
      `profile ${basename(file)}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(1)} s busy (not idle)`,
    );
    lines.push('  self time by origin (share of busy time):');
    for (const o of s.origins) lines.push(`    ${(o.share * 100).toFixed(1).padStart(5)} %  ${o.origin}`);
    lines.push('  self time charged to the nearest package frame (native/Node-internal time to its caller):');
    for (const o of s.charged) lines.push(`    ${(o.share * 100).toFixed(1).padStart(5)} %  ${o.origin}`);
    lines.push('  top functions by self time:');
    for (const f of s.top) lines.push(`    ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.name}`);
  }
  return lines;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write(
      'usage: node tools/bench/src/profile-summary.ts <dir with .cpuprofile files> [top]\n',
    );
    process.exit(2);
  }
  for (const line of summariseProfiles(dir, Number(process.argv[3] ?? 25))) process.stdout.write(`${line}\n`);
}
