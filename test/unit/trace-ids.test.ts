/**
 * Trace and span ids: drawn from a pooled CSPRNG buffer (see wire/trace.ts).
 * Every id is well formed, none repeats across many pool refills, and a
 * child keeps its parent's trace with a span of its own.
 */
import { describe, expect, it } from 'vitest';
import { childTraceparent, newTraceparent, parseTraceparent, traceIdOf } from '@mcpq/shared';

describe('trace ids', () => {
  it('fresh traceparents are valid, sampled and distinct across pool refills', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const tp = newTraceparent();
      const parts = parseTraceparent(tp);
      expect(parts).toBeDefined();
      expect(parts!.traceFlags).toBe(1);
      traces.add(parts!.traceId);
      spans.add(parts!.spanId);
    }
    expect(traces.size).toBe(20_000);
    expect(spans.size).toBe(20_000);
  });

  it('a child keeps the trace and its flags, with a new span id; a malformed parent starts a new trace', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const child = parseTraceparent(childTraceparent(parent))!;
      expect(child.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(child.traceFlags).toBe(0);
      expect(child.spanId).not.toBe('b7ad6b7169203331');
      seen.add(child.spanId);
    }
    expect(seen.size).toBe(1_000);
    expect(traceIdOf(childTraceparent('junk'))).toMatch(/^[0-9a-f]{32}$/);
  });
});
