/**
 * W3C Trace Context (`traceparent`): a caller's trace travels with its call
 * in the NATS header `traceparent`, into the call record, onto the events
 * mcpq publishes, and to the MCP server in the request's `_meta`. Log lines
 * about a call carry its `traceId`.
 */
import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Random bytes for trace and span ids come from a pool refilled 4 KB at a
 * time: one randomBytes() per id was 1.3% of the submitter's CPU (each is a
 * call into OpenSSL, with a getpid(2) for its fork check). Ids only need to
 * be unique, not secret; they are still drawn from the CSPRNG.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

/** A fresh traceparent (sampled). */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/** The trace id of a valid traceparent; undefined for anything else (invalid ones are dropped, not trusted). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return m[1];
}

/** A child span of `traceparent` (same trace, new span id), for the hop mcpq makes to the MCP server. */
export function childTraceparent(traceparent: string): string {
  const m = TRACEPARENT.exec(traceparent.trim());
  return m ? `00-${m[1]}-${randomHex(8)}-${m[3]}` : newTraceparent();
}

/** The parts of a traceparent, shaped like an OpenTelemetry SpanContext (so it can be handed to one unchanged). */
export interface TraceContextParts {
  traceId: string;
  spanId: string;
  /** W3C trace flags as a number (bit 0: sampled). */
  traceFlags: number;
}

/** A valid traceparent split into its parts; undefined for anything else (as `traceIdOf`). */
export function parseTraceparent(traceparent: string | undefined): TraceContextParts | undefined {
  if (!traceIdOf(traceparent)) return undefined;
  const m = TRACEPARENT.exec(traceparent!.trim())!;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) };
}

/** The traceparent of a span context (version 00). */
export function formatTraceparent(parts: TraceContextParts): string {
  return `00-${parts.traceId}-${parts.spanId}-${(parts.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
