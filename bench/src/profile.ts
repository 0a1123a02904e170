/**
 * Reads V8 .cpuprofile files (node --cpu-prof) and lists where the time
 * went: self time by function, summed over the profiles of one process kind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotSpot {
  function: string;
  where: string;
  /** Share of the process's busy samples (idle excluded) spent in this function itself. */
  selfPercent: number;
}

export function hotSpots(dir: string, top = 12): HotSpot[] {
  const self = new Map<string, { fn: string; where: string; hits: number }>();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      const { functionName, url, lineNumber } = node.callFrame;
      // Percentages are of busy time: waiting is not where the time goes.
      if (functionName !== '(idle)' && functionName !== '(program)') total += hits;
      const where = url ? `${shorten(url)}:${lineNumber + 1}` : '(native)';
      const fn = functionName || '(anonymous)';
      const key = `${fn}@${where}`;
      const cur = self.get(key) ?? { fn, where, hits: 0 };
      cur.hits += hits;
      self.set(key, cur);
    }
  }
  return [...self.values()]
    .filter((s) => s.fn !== '(idle)' && s.fn !== '(program)')
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((s) => ({ function: s.fn, where: s.where, selfPercent: total ? Math.round((s.hits / total) * 1000) / 10 : 0 }));
}

function shorten(url: string): string {
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  const i = url.indexOf('/packages/') >= 0 ? url.indexOf('/packages/') : url.indexOf('/services/');
  return i >= 0 ? url.slice(i + 1) : basename(url);
}
