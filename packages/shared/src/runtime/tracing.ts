/**
 * OpenTelemetry spans of the services, through `@opentelemetry/api` only.
 * With no SDK registered (the default) every call here is the API's no-op:
 * nothing is recorded or exported. An operator who registers an SDK (a
 * preloaded `--import` module, see docs/operations.md) gets the spans:
 *
 *   mcpq dispatch  a submitter's delivery of a call's request
 *   mcpq rejoin    a joiner's delivery of a call's join (one per takeover)
 *   mcpq result    the one result being published (finishCall)
 *
 * All of one call's spans are children of the call's `traceparent` (made by
 * the client, its "mcpq submit" span when the caller has an SDK), carried in
 * the call record, so they join in one trace whichever process made them.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { childTraceparent, formatTraceparent, parseTraceparent } from '@mcpq/contract';
import type { Outcome } from '../calls/result.js';

export type { Span } from '@opentelemetry/api';
export { SpanKind } from '@opentelemetry/api';

/** Instrumentation scope name of the services' spans. */
export const TRACER_NAME = '@mcpq/services';

/** Attribute names (one place, so docs/operations.md and tests match). */
export const SpanAttr = {
  callId: 'mcpq.call_id',
  server: 'mcpq.server',
  tool: 'mcpq.tool',
  mode: 'mcpq.mode',
  attempt: 'mcpq.attempt',
  delivery: 'mcpq.delivery',
  /** The joiner that made a rejoin span (a takeover shows as another id). */
  joinerId: 'mcpq.joiner_id',
  /** What the delivery came to: dispatched, finished, retry, parked, handed-back, lost, ... */
  outcome: 'mcpq.outcome',
  status: 'mcpq.status',
  errorCode: 'mcpq.error_code',
} as const;

/** A getter over a plain header map (the record's traceparent), for the API's propagation.extract. */
const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * The context whose span is the parent of a call's span: the active span when
 * it is already in the call's trace (a span of this process), else the call's
 * `traceparent`, extracted by the registered propagator or, when none is
 * registered (the API's default is a no-op), parsed here into a remote span
 * context, so parent linkage works with any SDK.
 */
export function callParentContext(traceparent: string | undefined): Context {
  const parts = parseTraceparent(traceparent);
  const active = context.active();
  if (!parts) return active;
  const activeSpan = trace.getSpanContext(active);
  if (activeSpan && activeSpan.traceId === parts.traceId) return active;
  const extracted = propagation.extract(ROOT_CONTEXT, { traceparent: traceparent!.trim() }, recordGetter);
  const found = trace.getSpanContext(extracted);
  if (found && found.traceId === parts.traceId) return extracted;
  return trace.setSpanContext(ROOT_CONTEXT, { ...parts, isRemote: true });
}

/** Starts a span of a call, child of its traceparent (see callParentContext). */
export function startCallSpan(
  name: string,
  traceparent: string | undefined,
  attributes: Attributes,
  kind: SpanKind = SpanKind.INTERNAL,
): Span {
  return trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes: defined(attributes) }, callParentContext(traceparent));
}

/** Runs `fn` with `span` active (for an SDK with a context manager, later spans nest under it). */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Records a call's outcome on a span: its status and error code; span status ERROR unless completed. */
export function recordOutcome(span: Span, outcome: Pick<Outcome, 'status' | 'error'>): void {
  span.setAttributes(defined({ [SpanAttr.status]: outcome.status, [SpanAttr.errorCode]: outcome.error?.code }));
  if (outcome.status !== 'completed') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error?.message ?? outcome.status });
}

/** Records a failure that ends a span's work (an exception, or mcpq's own error code). */
export function recordFailure(span: Span, err: unknown, code?: string): void {
  if (code) span.setAttribute(SpanAttr.errorCode, code);
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * The traceparent of the hop to the MCP server (the tools/call `_meta` and
 * its HTTP `traceparent` header): the span's own context when an SDK records
 * it, so the server's spans nest under it; else a fresh child of the call's
 * traceparent, as without OpenTelemetry.
 */
export function hopTraceparent(span: Span, traceparent: string | undefined): string | undefined {
  if (span.isRecording()) return formatTraceparent(span.spanContext());
  return traceparent ? childTraceparent(traceparent) : undefined;
}

/** Span attributes without the undefined ones (the API drops them with a warning). */
function defined(attributes: Record<string, Attributes[string] | undefined>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}
