/**
 * Summarizes V8 .cpuprofile files (BENCH_CPU_PROF=1 npm run bench writes them for the harness
 * and the runner): self time by package/file and the top functions.
 *   node --import tsx bench/prof-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function bucketOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/builtin)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const project = /\/work\/[^/]+\/(.*)$/.exec(url);
  return project?.[1] ?? url;
}

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from samples × time deltas (µs).
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()]
    .filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id)?.callFrame.functionName ?? ''))
    .reduce<Record<string, number>>((acc, [id, us]) => {
      const name = byId.get(id)?.callFrame.functionName ?? '';
      acc[name] = (acc[name] ?? 0) + us;
      return acc;
    }, {});
  const busy = total - (idle['(idle)'] ?? 0);
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === '(idle)') continue;
    const b = bucketOf(n.callFrame.url, n.callFrame.functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${bucketOf(n.callFrame.url, '')}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `${file}`,
    `  profiled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s (GC ${pct(idle['(garbage collector)'] ?? 0)} of busy)`,
    '  self time by package / file (% of busy):',
    ...[...buckets.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `    ${pct(us)}  ${k}`),
    '  top functions by self time:',
    ...[...fns.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `    ${pct(us)}  ${k}`),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2).filter((a) => a.endsWith('.cpuprofile'));
  const top = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 25);
  if (files.length === 0) {
    process.stderr.write('usage: node --import tsx bench/prof-summary.ts <file.cpuprofile>... [top]\n');
    process.exit(2);
  }
  for (const f of files) process.stdout.write(`${summarizeProfile(f, top)}\n\n`);
}
