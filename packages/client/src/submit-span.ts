/**
 * The client's OpenTelemetry span, "mcpq submit", through `@opentelemetry/api`
 * only (a peer dependency: the application's own copy, so the span reaches
 * the SDK the application registered; with none it is the API's no-op).
 * Its context is the call's `traceparent`: the services' spans (dispatch,
 * rejoin, result) become its children, whichever process makes them.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { formatTraceparent, newTraceparent, parseTraceparent } from '@mcpq/contract';

export interface SubmitSpan {
  span: Span;
  /** The traceparent the call carries (the span's own context, the caller's one, or a new trace). */
  traceparent: string;
}

/**
 * Starts the span of a submission: a child of the caller's `traceparent`
 * when it is valid, else of the active span (if any).
 */
export function startSubmitSpan(callId: string, server: string, tool: string, traceparent: string | undefined): SubmitSpan {
  const given = parseTraceparent(traceparent);
  const parent = given ? trace.setSpanContext(context.active(), { ...given, isRemote: true }) : context.active();
  const span = trace
    .getTracer('@mcpq/client')
    .startSpan(
      'mcpq submit',
      { kind: SpanKind.PRODUCER, attributes: { 'mcpq.call_id': callId, 'mcpq.server': server, 'mcpq.tool': tool } },
      parent,
    );
  // Without an SDK the span is the API's non-recording one: it carries the parent's context (the caller's trace), or none.
  const own = span.spanContext();
  return { span, traceparent: trace.isSpanContextValid(own) ? formatTraceparent(own) : newTraceparent() };
}

/** Ends the span; a failed submission marks it an error. */
export function endSubmitSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    if (err instanceof Error) span.recordException(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}
