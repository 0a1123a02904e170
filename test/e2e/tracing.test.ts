/**
 * OpenTelemetry spans end to end. The test process registers a real SDK
 * tracer provider (sdk-trace-base, in-memory exporter) for the client's
 * "mcpq submit" span; the submitter and joiner run as child processes with
 * test/helpers/otel-preload.mjs, which registers the same SDK and writes
 * their spans as JSON lines to a file per process. Asserted: the spans
 * exist with their names and attributes, every span of a call is in the
 * trace of its traceparent and has its parent in it, a joiner takeover adds
 * a rejoin span, a failed call's result span has error status, and the
 * tools/call HTTP request carries the dispatch span's context.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { callParentContext, hopTraceparent, parseTraceparent } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import type { ServiceKind } from '@mcpq/testkit';

interface SpanLine {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  pid: number;
}

const PRELOAD = pathToFileURL(join(import.meta.dirname, '../helpers/otel-preload.mjs')).href;
const memory = new InMemorySpanExporter();

let h: Harness | undefined;
beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] }));
});
afterAll(() => {
  trace.disable();
  propagation.disable();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  memory.reset();
});

/** Starts a service with the tracing preload; its spans go to `<harness dir>/spans-<n>.jsonl`. */
async function startTraced(harness: Harness, kind: ServiceKind, n: number): Promise<string> {
  const file = join(harness.dir, `spans-${kind}-${n}.jsonl`);
  await harness.start(kind, {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`.trim(),
    MCPQ_TEST_SPANS_FILE: file,
  });
  return file;
}

function spansIn(file: string, callId: string): SpanLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SpanLine)
    .filter((s) => s.attributes['mcpq.call_id'] === callId);
}

/**
 * A process's spans of a call once both its result span and the span that
 * published it (`outer`: dispatch or rejoin, which ends last) are written;
 * undefined before (the client has the result before the spans end).
 */
function spansUntilDone(file: string, callId: string, outer: string): SpanLine[] | undefined {
  const spans = spansIn(file, callId);
  const ended = (s: SpanLine) => s.name === outer && ['outcome', 'finished'].includes(String(s.attributes['mcpq.outcome']));
  const done = spans.some((s) => s.name === 'mcpq result') && spans.some(ended);
  return done ? spans : undefined;
}

/** The client's submit span of a call (test process, in memory). */
function submitSpan(callId: string) {
  const span = memory.getFinishedSpans().find((s) => s.name === 'mcpq submit' && s.attributes['mcpq.call_id'] === callId);
  expect(span, `submit span of ${callId}`).toBeDefined();
  return span!.spanContext();
}

describe('OpenTelemetry spans', () => {
  it('a call rejoined by a joiner and a call answered at once: submit, dispatch, rejoin and result spans in the trace of the traceparent, the tools/call request carries the dispatch span', async () => {
    h = await createHarness({ servers: { demo: { proxied: true } } });
    const submitterFile = await startTraced(h, 'submitter', 1);
    const joinerFile = await startTraced(h, 'joiner', 1);

    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 1_000, steps: 2, label: 'traced' });
    const fast = (await h.client.submit('demo', 'echo', { text: 'at once' })).callId;
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');
    expect((await h.client.result(fast, { timeoutMs: 30_000 })).status).toBe('completed');

    // The client's span is the traceparent the call carries.
    const submit = submitSpan(callId);
    expect((await h.record(callId))!.traceparent).toBe(`00-${submit.traceId}-${submit.spanId}-01`);

    const joinerSpans = await waitFor('rejoin and result spans', () => spansUntilDone(joinerFile, callId, 'mcpq rejoin'));
    const dispatch = spansIn(submitterFile, callId).filter((s) => s.name === 'mcpq dispatch');
    expect(dispatch).toHaveLength(1);
    expect(dispatch[0]).toMatchObject({
      traceId: submit.traceId,
      parentSpanId: submit.spanId,
      kind: 4, // CONSUMER
      attributes: { 'mcpq.server': 'demo', 'mcpq.tool': 'slow', 'mcpq.mode': 'resume', 'mcpq.attempt': 1, 'mcpq.outcome': 'dispatched' },
    });
    const rejoin = joinerSpans.filter((s) => s.name === 'mcpq rejoin');
    expect(rejoin.length).toBeGreaterThanOrEqual(1);
    for (const r of rejoin) expect(r).toMatchObject({ traceId: submit.traceId, parentSpanId: submit.spanId });
    const last = rejoin.at(-1)!;
    expect(last.attributes).toMatchObject({ 'mcpq.mode': 'resume', 'mcpq.outcome': 'outcome', 'mcpq.status': 'completed' });
    expect(last.status.code).not.toBe(SpanStatusCode.ERROR);
    // The result is published inside the rejoin: its span is the rejoin span's child.
    const result = joinerSpans.filter((s) => s.name === 'mcpq result');
    expect(result).toHaveLength(1);
    expect(result[0]).toMatchObject({
      traceId: submit.traceId,
      parentSpanId: last.spanId,
      attributes: { 'mcpq.status': 'completed', 'mcpq.outcome': 'published' },
    });

    // The hop to the MCP server: the tools/call POST carries the dispatch span's context in its HTTP header.
    const calls = h.proxies.demo!.seen.filter((r) => r.rpc === 'tools/call');
    expect(calls.map((r) => r.traceparent)).toContain(`00-${submit.traceId}-${dispatch[0]!.spanId}-01`);

    // The fast path: the submitter read the answer itself and published the result inside its dispatch span.
    const fastSubmit = submitSpan(fast);
    const fastSpans = await waitFor('fast-path dispatch and result spans', () => spansUntilDone(submitterFile, fast, 'mcpq dispatch'));
    const fastDispatch = fastSpans.find((s) => s.name === 'mcpq dispatch')!;
    expect(fastDispatch).toMatchObject({
      traceId: fastSubmit.traceId,
      parentSpanId: fastSubmit.spanId,
      attributes: { 'mcpq.outcome': 'finished' },
    });
    expect(fastSpans.find((s) => s.name === 'mcpq result')).toMatchObject({
      traceId: fastSubmit.traceId,
      parentSpanId: fastDispatch.spanId,
      attributes: { 'mcpq.status': 'completed' },
    });
    expect(spansIn(joinerFile, fast)).toEqual([]);
  });

  it('a joiner takeover adds a rejoin span by the second joiner in the same trace; a failed call has an error result span', async () => {
    h = await createHarness();
    const submitterFile = await startTraced(h, 'submitter', 1);
    const firstFile = await startTraced(h, 'joiner', 1);
    const first = h.services.at(-1)!;
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 4_000, steps: 4, label: 'moved' });
    await waitFor('progress from the first joiner', async () => (await h!.storedEvents(callId)).progress.length >= 1);
    // SIGTERM: the first joiner hands the call back (its rejoin span ends), the second one takes it over.
    await first.stop();
    const secondFile = await startTraced(h, 'joiner', 2);
    expect((await h.client.result(callId, { timeoutMs: 60_000 })).status).toBe('completed');

    const submit = submitSpan(callId);
    const before = spansIn(firstFile, callId).filter((s) => s.name === 'mcpq rejoin');
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.at(-1)!.attributes['mcpq.outcome']).toBe('stopped:shutdown');
    const after = await waitFor("the second joiner's rejoin and result spans", () => spansUntilDone(secondFile, callId, 'mcpq rejoin'));
    const takeover = after.filter((s) => s.name === 'mcpq rejoin');
    expect(takeover.length).toBeGreaterThanOrEqual(1);
    expect(takeover.at(-1)!.attributes).toMatchObject({ 'mcpq.outcome': 'outcome', 'mcpq.status': 'completed' });
    expect(takeover.at(-1)!.attributes['mcpq.joiner_id']).not.toBe(before.at(-1)!.attributes['mcpq.joiner_id']);
    const all = [...spansIn(submitterFile, callId), ...before, ...after];
    for (const s of all) expect(s.traceId).toBe(submit.traceId);
    // Every parent is a span of this trace: the client's submit span or another span of the call.
    const ids = new Set([submit.spanId, ...all.map((s) => s.spanId)]);
    for (const s of all) expect(ids.has(s.parentSpanId!)).toBe(true);

    // A failed call: the tool does not exist; the result span says so with error status.
    const failed = (await h.client.submit('demo', 'no_such_tool', {})).callId;
    const outcome = await h.client.result(failed, { timeoutMs: 30_000 });
    expect(outcome.status).toBe('failed');
    const resultSpan = await waitFor('the failed result span', () => spansIn(submitterFile, failed).find((s) => s.name === 'mcpq result'));
    expect(resultSpan).toMatchObject({
      traceId: submitSpan(failed).traceId,
      status: { code: SpanStatusCode.ERROR },
      attributes: { 'mcpq.status': 'failed', 'mcpq.error_code': 'unknown_tool', 'mcpq.tool': 'no_such_tool' },
    });
  });

  it('the parent of a call span: parsed from the traceparent without a propagator, extracted by a registered one; the hop without an SDK is a fresh child', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    propagation.disable();
    expect(trace.getSpanContext(callParentContext(tp))).toMatchObject({ ...parseTraceparent(tp), isRemote: true });
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(trace.getSpanContext(callParentContext(tp))).toMatchObject({ ...parseTraceparent(tp), isRemote: true });
    propagation.disable();
    expect(trace.getSpanContext(callParentContext(undefined))).toBeUndefined();
    expect(trace.getSpanContext(callParentContext('not-a-traceparent'))).toBeUndefined();
    // A non-recording span (no SDK): the MCP server gets a child of the call's traceparent, not the parent itself.
    const hop = hopTraceparent(trace.wrapSpanContext({ ...parseTraceparent(tp)!, isRemote: true }), tp)!;
    expect(parseTraceparent(hop)).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', traceFlags: 1 });
    expect(hop).not.toBe(tp);
  });
});
