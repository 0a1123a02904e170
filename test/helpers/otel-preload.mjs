/**
 * A preload for service processes under test (`node --import`), like the one
 * an operator adds to enable tracing (docs/operations.md), with a file instead
 * of a collector: it registers a real OpenTelemetry SDK tracer provider
 * (sdk-trace-base) and the AsyncLocalStorage context manager, and appends each
 * ended span as one JSON line to $MCPQ_TEST_SPANS_FILE (synchronously, so a
 * span is on disk the moment it ends). No propagator is registered: the
 * services must join the call's traceparent on their own.
 */
import { appendFileSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const file = process.env.MCPQ_TEST_SPANS_FILE;
if (!file) throw new Error('otel-preload: MCPQ_TEST_SPANS_FILE is not set');

/** @type {import('@opentelemetry/sdk-trace-base').SpanExporter} */
const exporter = {
  export(spans, done) {
    for (const s of spans) {
      const line = {
        name: s.name,
        kind: s.kind,
        scope: s.instrumentationScope.name,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        attributes: s.attributes,
        status: s.status,
        pid: process.pid,
      };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    }
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
