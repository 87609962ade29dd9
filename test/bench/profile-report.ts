import { readFileSync } from 'node:fs';

/**
 * Summarizes a .cpuprofile (V8 sampling profile, as written by profile-hook.ts or --cpu-prof):
 * where the archive's CPU went, by package/library and by function (self and inclusive time).
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly wallMs: number;
  readonly sampledMs: number;
  /** Time not idle (all but "(idle)"). */
  readonly busyMs: number;
  readonly byCategory: [string, number][];
  readonly selfTop: [string, number][];
  readonly inclusiveTop: [string, number][];
}

/** node_modules package, project library (libs/x, apps/x, test/x), node: module, or V8 pseudo-frame. */
export function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/dist\/(libs|apps|test)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  return url;
}

function frameKey(frame: CallFrame): string {
  const where = frame.url ? `${frame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const category = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    sampled += dt;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const cat = categoryOf(node.callFrame);
    category.set(cat, (category.get(cat) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (frame.functionName === '(root)') break;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });
  const sorted = (m: Map<string, number>, n: number): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    sampledMs: sampled,
    busyMs: sampled - idle,
    byCategory: sorted(category, 20),
    selfTop: sorted(self, top),
    // Inclusive time of the project's own code and named functions (async plumbing and anonymous frames say little).
    inclusiveTop: sorted(
      new Map([...inclusive.entries()].filter(([k]) => !k.startsWith('(') && / (dist|node_modules)\//.test(k))),
      top,
    ),
  };
}

export function formatProfile(label: string, s: ProfileSummary): string {
  const pct = (ms: number): string => `${((100 * ms) / Math.max(1, s.busyMs)).toFixed(1).padStart(5)}%`;
  const ms = (v: number): string => `${v.toFixed(0).padStart(7)} ms`;
  const lines = [
    `== CPU profile: ${label}`,
    `wall ${s.wallMs.toFixed(0)} ms, on CPU (not idle) ${s.busyMs.toFixed(0)} ms (${((100 * s.busyMs) / Math.max(1, s.wallMs)).toFixed(0)}% of one core)`,
    '-- self time by package / library',
    ...s.byCategory.map(([k, v]) => `${ms(v)} ${pct(v)}  ${k}`),
    '-- self time by function',
    ...s.selfTop.map(([k, v]) => `${ms(v)} ${pct(v)}  ${k}`),
    '-- inclusive time (project code and packages)',
    ...s.inclusiveTop.map(([k, v]) => `${ms(v)} ${pct(v)}  ${k}`),
  ];
  return `${lines.join('\n')}\n`;
}
