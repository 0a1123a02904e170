/**
 * The bad-input corpus: bad submissions and bad server answers, each with the
 * outcome it must get (a failed result with its specific code when it names a
 * usable, unused callId; a dead letter, cut to fit one NATS message when it
 * must be, otherwise; a completed call for inputs exactly at a limit). Shared
 * by test/failure/bad-input-corpus.test.ts (every case, as the services'
 * own client) and test/security/tenant-bad-input.test.ts (the submission
 * attacks, published by tenant users through their own prefixes): import it,
 * do not copy it. It holds no tests, so importing it runs none.
 * Cases with a `fault` need server `bad` behind a FaultProxy (fault injector).
 */
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient } from '@nats-io/jetstream';
import { expect } from 'vitest';
import type { DeadLetter, ResultEvent } from '@mcpq/shared';
import { waitFor } from '../helpers/harness.js';
import type { FaultRule } from '../helpers/fault-proxy.js';

/** The limits the expectations are written for (`limits.maxArgumentsDepth` keeps its default, 64). */
export const CORPUS_LIMITS = { maxArgumentsBytes: 2_048, maxResponseBytes: 65_536, maxErrorBytes: 4_096 } as const;

export type Expect =
  | { result: string; message?: RegExp; status?: string }
  | { deadLetter: string; message?: RegExp; truncated?: boolean }
  /** Exactly at a limit: accepted, and the call completes. */
  | { completed: true };
export interface Case {
  name: string;
  payload: string | Uint8Array | ((id: string) => string);
  /** Nats-Msg-Id to send: the case's id (default), none, or another value; a list sends the header that many times. */
  msgId?: 'id' | 'none' | string | string[];
  /** Other headers to send. */
  headers?: Record<string, string>;
  server?: string;
  /** Extra subject tokens after the server alias. */
  subjectTail?: string;
  /** A bad answer the proxy in front of server `bad` gives (once) during this case. */
  fault?: (id: string) => FaultRule;
  expect: Expect;
}

const req = (fields: Record<string, unknown>) => (id: string) => JSON.stringify({ callId: id, ...fields });
/** A JSON text nested `levels` deep: `{"a":{"a":...1...}}`. */
const nest = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
/** Like `req`, with raw JSON spliced in (nesting past any stack cannot go through JSON.stringify). */
const rawReq = (fields: string) => (id: string) => `{"callId":"${id}",${fields}}`;
/** The JSON-RPC id mcpq gives a call's first attempt. */
const rpcId = (id: string) => `mcpq-${id}-1`;
/** `{"text":"<s>"}` where s escapes to exactly `bytes - 11` bytes of control characters and letters. */
const textOfJsonBytes = (bytes: number) => {
  const room = bytes - 11;
  return '\\u0001'.repeat(Math.floor(room / 6)) + 'a'.repeat(room % 6);
};
const onCall = (action: FaultRule['action']) => () => ({ match: 'tools/call', times: 1, action }) as FaultRule;
const answer = (body: (id: string) => unknown) => (id: string) =>
  ({ match: 'tools/call', times: 1, action: { kind: 'respond', body: () => JSON.stringify(body(id)) } }) as FaultRule;
const sse =
  (text: (id: string) => string, thenReset = false) =>
  (id: string) =>
    ({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', headers: { 'content-type': 'text/event-stream' }, body: () => text(id), thenReset },
    }) as FaultRule;
const invalidUtf8 = (bytes: number[]) =>
  new Uint8Array([...Buffer.from('{"callId":"x","tool":"echo","arguments":{"text":"'), ...bytes, ...Buffer.from('"}}')]);

export const cases: Case[] = [
  { name: 'not JSON', payload: 'tool=echo&text=hi', expect: { deadLetter: 'invalid_request', message: /not JSON/ } },
  { name: 'an empty payload', payload: '', expect: { deadLetter: 'invalid_request', message: /not JSON/ } },
  { name: 'binary bytes', payload: new Uint8Array([0, 159, 146, 150, 255]), expect: { deadLetter: 'invalid_request', message: /UTF-8/ } },
  { name: 'JSON null', payload: 'null', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON array', payload: '[{"callId":"x","tool":"echo"}]', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON number', payload: '42', expect: { deadLetter: 'invalid_request' } },
  { name: 'a JSON string', payload: '"call echo"', expect: { deadLetter: 'invalid_request' } },
  { name: 'no callId', payload: '{"tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  { name: 'an empty callId', payload: '{"callId":"","tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  { name: 'a callId with a dot', payload: '{"callId":"a.b","tool":"echo"}', expect: { deadLetter: 'invalid_request', message: /callId/ } },
  {
    name: 'a callId of 65 characters',
    payload: JSON.stringify({ callId: 'x'.repeat(65), tool: 'echo' }),
    expect: { deadLetter: 'invalid_request' },
  },
  { name: 'a numeric callId', payload: '{"callId":12345,"tool":"echo"}', expect: { deadLetter: 'invalid_request' } },
  {
    name: 'an extra subject token',
    payload: req({ tool: 'echo' }),
    subjectTail: 'extra',
    expect: { deadLetter: 'invalid_request', message: /submit/ },
  },
  { name: 'no tool', payload: req({}), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'a tool that is not a string', payload: req({ tool: 7 }), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'an empty tool name', payload: req({ tool: '' }), expect: { result: 'invalid_request', message: /tool/ } },
  { name: 'a tool name of 300 characters', payload: req({ tool: 't'.repeat(300) }), expect: { result: 'invalid_request', message: /256/ } },
  {
    name: 'arguments that are an array',
    payload: req({ tool: 'echo', arguments: ['hi'] }),
    expect: { result: 'invalid_request', message: /arguments/ },
  },
  {
    name: 'arguments that are a string',
    payload: req({ tool: 'echo', arguments: 'text=hi' }),
    expect: { result: 'invalid_request', message: /arguments/ },
  },
  {
    name: 'a negative timeoutMs',
    payload: req({ tool: 'echo', timeoutMs: -1 }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'a timeoutMs that is a string',
    payload: req({ tool: 'echo', timeoutMs: '30s' }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'a fractional timeoutMs',
    payload: req({ tool: 'echo', timeoutMs: 1.5 }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'idempotent that is not a boolean',
    payload: req({ tool: 'echo', idempotent: 'yes' }),
    expect: { result: 'invalid_request', message: /idempotent/ },
  },
  { name: 'meta that is not an object', payload: req({ tool: 'echo', meta: 'x' }), expect: { result: 'invalid_request', message: /meta/ } },
  {
    name: 'a reserved meta key',
    payload: req({ tool: 'echo', meta: { 'io.mcpq/callId': 'other' } }),
    expect: { result: 'invalid_request', message: /reserved/ },
  },
  {
    name: 'an unknown field (a typo)',
    payload: req({ tool: 'echo', argument: { text: 'hi' } }),
    expect: { result: 'invalid_request', message: /argument/ },
  },
  {
    name: 'no Nats-Msg-Id header',
    payload: req({ tool: 'echo' }),
    msgId: 'none',
    expect: { result: 'invalid_request', message: /Nats-Msg-Id header is missing/ },
  },
  {
    name: 'a Nats-Msg-Id that is not the callId',
    payload: req({ tool: 'echo' }),
    msgId: 'someone-else',
    expect: { result: 'invalid_request', message: /must equal the callId/ },
  },
  {
    name: 'arguments over limits.maxArgumentsBytes',
    payload: req({ tool: 'echo', arguments: { text: 'y'.repeat(5_000) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: 'an unknown server alias',
    payload: req({ tool: 'echo' }),
    server: 'elsewhere',
    expect: { result: 'unknown_server', message: /elsewhere/ },
  },
  { name: 'an unknown tool', payload: req({ tool: 'rm_rf' }), expect: { result: 'unknown_tool', message: /rm_rf/ } },
  {
    name: "arguments of the wrong type for the tool's inputSchema",
    payload: req({ tool: 'slow', arguments: { durationMs: 'long' } }),
    expect: { result: 'invalid_arguments', message: /durationMs/ },
  },
  {
    name: "arguments outside the tool's inputSchema bounds",
    payload: req({ tool: 'slow', arguments: { steps: -1 } }),
    expect: { result: 'invalid_arguments', message: /steps/ },
  },
  {
    name: 'a required argument missing',
    payload: req({ tool: 'echo', arguments: {} }),
    expect: { result: 'invalid_arguments', message: /text/ },
  },

  // Sizes at and just past the limit, measured after escaping (limits.maxArgumentsBytes = 2048).
  {
    name: 'arguments of exactly 2048 bytes after escaping',
    payload: rawReq(`"tool":"echo","arguments":{"text":"${textOfJsonBytes(2_048)}"}`),
    expect: { completed: true },
  },
  {
    name: 'arguments of 2049 bytes after escaping',
    payload: rawReq(`"tool":"echo","arguments":{"text":"${textOfJsonBytes(2_049)}"}`),
    expect: { result: 'arguments_too_large', message: /2049 bytes/ },
  },
  {
    name: '400 control characters (400 characters, 2400 bytes escaped)',
    payload: req({ tool: 'echo', arguments: { text: '\u0001'.repeat(400) } }),
    expect: { result: 'arguments_too_large', message: /24\d\d bytes/ },
  },
  {
    name: '1100 double quotes (2200 bytes escaped)',
    payload: req({ tool: 'echo', arguments: { text: '"'.repeat(1_100) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: '1100 backslashes (2200 bytes escaped)',
    payload: req({ tool: 'echo', arguments: { text: '\\'.repeat(1_100) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: '700 three-byte characters (2100 bytes of UTF-8)',
    payload: req({ tool: 'echo', arguments: { text: '€'.repeat(700) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: '600 three-byte characters (1800 bytes: fits)',
    payload: req({ tool: 'echo', arguments: { text: '€'.repeat(600) } }),
    expect: { completed: true },
  },
  {
    name: '520 emoji (2080 bytes of UTF-8)',
    payload: req({ tool: 'echo', arguments: { text: '😀'.repeat(520) } }),
    expect: { result: 'arguments_too_large' },
  },
  {
    name: 'meta that pushes arguments and meta past the limit',
    payload: req({ tool: 'echo', arguments: { text: 'x' }, meta: { note: 'n'.repeat(2_100) } }),
    expect: { result: 'arguments_too_large', message: /meta/ },
  },
  { name: 'a server alias of 65 characters', payload: req({ tool: 'echo' }), server: 's'.repeat(65), expect: { result: 'unknown_server' } },
  { name: 'a tool name of exactly 256 characters', payload: req({ tool: 't'.repeat(256) }), expect: { result: 'unknown_tool' } },
  {
    name: 'a timeoutMs of exactly 30 days',
    payload: req({ tool: 'echo', arguments: { text: 'x' }, timeoutMs: 30 * 24 * 3600 * 1000 }),
    expect: { completed: true },
  },
  {
    name: 'a timeoutMs of 30 days and 1 ms',
    payload: req({ tool: 'echo', timeoutMs: 30 * 24 * 3600 * 1000 + 1 }),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  { name: 'a timeoutMs of 0', payload: req({ tool: 'echo', timeoutMs: 0 }), expect: { result: 'invalid_request', message: /timeoutMs/ } },
  {
    name: 'a timeoutMs of 1e400 (Infinity)',
    payload: rawReq('"tool":"echo","timeoutMs":1e400'),
    expect: { result: 'invalid_request', message: /timeoutMs/ },
  },
  {
    name: 'a submission of 900 KB that is 1.8 MB escaped, without a callId',
    payload: `{"tool":"echo","arguments":{"text":"${'\\"'.repeat(450_000)}"}}`,
    expect: { deadLetter: 'invalid_request', truncated: true },
  },

  // Nesting (limits.maxArgumentsDepth = 64; the arguments object itself is level 1).
  {
    name: 'arguments nested exactly 64 levels',
    payload: rawReq(`"tool":"echo","arguments":{"text":"x","n":${nest(63)}}`),
    expect: { completed: true },
  },
  {
    name: 'arguments nested 65 levels',
    payload: rawReq(`"tool":"echo","arguments":{"text":"x","n":${nest(64)}}`),
    expect: { result: 'arguments_too_deep', message: /65/ },
  },
  {
    name: 'arguments nested 100,000 levels',
    payload: rawReq(`"tool":"echo","arguments":${nest(100_000)}`),
    expect: { result: 'arguments_too_deep' },
  },
  {
    name: 'arrays nested 100,000 levels in arguments',
    payload: rawReq(`"tool":"echo","arguments":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
    expect: { result: 'arguments_too_deep' },
  },
  {
    name: 'meta nested 100,000 levels',
    payload: rawReq(`"tool":"echo","arguments":{"text":"x"},"meta":${nest(100_000)}`),
    expect: { result: 'arguments_too_deep', message: /meta/ },
  },
  {
    name: 'an unknown field nested 100,000 levels',
    payload: rawReq(`"tool":"echo","extra":${nest(100_000)}`),
    expect: { result: 'invalid_request', message: /extra/ },
  },
  {
    name: 'nesting 100,000 levels without a callId',
    payload: `{"tool":"echo","arguments":${nest(100_000)}}`,
    expect: { deadLetter: 'invalid_request', message: /callId/ },
  },
  {
    name: 'a payload that is only 100,000 open brackets',
    payload: '['.repeat(100_000),
    expect: { deadLetter: 'invalid_request', message: /not JSON/ },
  },

  // Invalid UTF-8 and odd text.
  { name: 'an overlong encoding (C0 AF)', payload: invalidUtf8([0xc0, 0xaf]), expect: { deadLetter: 'invalid_request', message: /UTF-8/ } },
  { name: 'a lone continuation byte (80)', payload: invalidUtf8([0x80]), expect: { deadLetter: 'invalid_request', message: /UTF-8/ } },
  {
    name: 'a truncated three-byte sequence (E2 82)',
    payload: invalidUtf8([0xe2, 0x82]),
    expect: { deadLetter: 'invalid_request', message: /UTF-8/ },
  },
  {
    name: 'a UTF-8-encoded surrogate (ED A0 80)',
    payload: invalidUtf8([0xed, 0xa0, 0x80]),
    expect: { deadLetter: 'invalid_request', message: /UTF-8/ },
  },
  {
    name: 'a byte past Unicode (F5)',
    payload: invalidUtf8([0xf5, 0x80, 0x80, 0x80]),
    expect: { deadLetter: 'invalid_request', message: /UTF-8/ },
  },
  {
    name: 'trailing text after the JSON',
    payload: (id) => `${JSON.stringify({ callId: id, tool: 'echo' })} trailing`,
    expect: { deadLetter: 'invalid_request', message: /not JSON/ },
  },
  {
    name: 'JSON with a comment',
    payload: (id) => `{"callId":"${id}", /* hi */ "tool":"echo"}`,
    expect: { deadLetter: 'invalid_request', message: /not JSON/ },
  },
  { name: 'only whitespace', payload: ' \n\t ', expect: { deadLetter: 'invalid_request', message: /not JSON/ } },
  { name: 'JSON true', payload: 'true', expect: { deadLetter: 'invalid_request' } },
  {
    name: 'a callId of 10,000 characters',
    payload: JSON.stringify({ callId: 'c'.repeat(10_000), tool: 'echo' }),
    expect: { deadLetter: 'invalid_request', message: /callId/ },
  },
  {
    name: 'a callId with a space',
    payload: '{"callId":"a b","tool":"echo"}',
    expect: { deadLetter: 'invalid_request', message: /callId/ },
  },
  {
    name: 'a callId with a wildcard',
    payload: '{"callId":"a*","tool":"echo"}',
    expect: { deadLetter: 'invalid_request', message: /callId/ },
  },
  {
    name: 'a callId with non-ASCII letters',
    payload: '{"callId":"größe","tool":"echo"}',
    expect: { deadLetter: 'invalid_request', message: /callId/ },
  },
  {
    name: 'arguments that are null',
    payload: req({ tool: 'echo', arguments: null }),
    expect: { result: 'invalid_request', message: /arguments/ },
  },
  {
    name: 'idempotent that is null',
    payload: req({ tool: 'echo', idempotent: null }),
    expect: { result: 'invalid_request', message: /idempotent/ },
  },

  // Headers.
  {
    name: 'an empty Nats-Msg-Id',
    payload: req({ tool: 'echo' }),
    msgId: '',
    expect: { result: 'invalid_request', message: /Nats-Msg-Id header is missing/ },
  },
  {
    name: 'two Nats-Msg-Id headers',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    msgId: ['id', 'id'],
    expect: { result: 'invalid_request', message: /more than one Nats-Msg-Id/ },
  },
  {
    name: 'a Nats-Msg-Id of 10 KB',
    payload: req({ tool: 'echo' }),
    msgId: 'm'.repeat(10_000),
    expect: { result: 'invalid_request', message: /must equal the callId/ },
  },
  {
    name: 'a Nats-Msg-Id with the callId in another case',
    payload: (id) => JSON.stringify({ callId: id, tool: 'echo' }),
    msgId: 'CORPUS-X',
    expect: { result: 'invalid_request', message: /must equal the callId/ },
  },
  {
    name: 'an unreadable payload of 500 KB (1 MB escaped) with a 60 KB header',
    payload: `not json ${'"'.repeat(500_000)}`,
    headers: { 'X-Junk': 'j'.repeat(60_000) },
    expect: { deadLetter: 'invalid_request', message: /not JSON/, truncated: true },
  },
  {
    name: 'a malformed traceparent (ignored)',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    headers: { traceparent: 'not-a-trace' },
    expect: { completed: true },
  },

  // Bad answers from the server (FaultProxy in front of server `bad`).
  {
    name: 'a JSON answer with the wrong JSON-RPC id',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer(() => ({ jsonrpc: '2.0', id: 'someone-else', result: { content: [] } })),
    expect: { result: 'protocol_error', message: /no response/ },
  },
  {
    name: 'an SSE answer with the wrong JSON-RPC id, then the end',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: sse(() => `data: ${JSON.stringify({ jsonrpc: '2.0', id: 'someone-else', result: {} })}\n\n`),
    expect: { result: 'protocol_error' },
  },
  {
    name: 'a body that is not JSON',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: onCall({ kind: 'respond', body: '<html>oops</html>' }),
    expect: { result: 'protocol_error', message: /not JSON/ },
  },
  {
    name: 'an HTML page',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: onCall({ kind: 'respond', headers: { 'content-type': 'text/html' }, body: '<html>login</html>' }),
    expect: { result: 'protocol_error', message: /content-type/ },
  },
  {
    name: 'a truncated SSE stream (no blank line after the last event)',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: sse((id) => `data: ${JSON.stringify({ jsonrpc: '2.0', id: rpcId(id), result: { content: [] } })}`),
    expect: { result: 'protocol_error' },
  },
  {
    name: 'an SSE stream cut mid-event (connection reset, not idempotent)',
    server: 'bad',
    payload: req({ tool: 'slow', arguments: { durationMs: 10 } }),
    fault: sse(() => 'data: {"jsonrpc":"2.0",', true),
    expect: { result: 'outcome_unknown' },
  },
  {
    name: 'an SSE event of 2 MB',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: sse(() => `data: ${'z'.repeat(2_000_000)}\n\n`),
    expect: { result: 'response_too_large' },
  },
  {
    name: 'a JSON body of 2 MB',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer((id) => ({ jsonrpc: '2.0', id: rpcId(id), result: { content: [{ type: 'text', text: 'z'.repeat(2_000_000) }] } })),
    expect: { result: 'response_too_large' },
  },
  {
    name: 'a JSON-RPC error of 60 KB (kept cut to limits.maxErrorBytes)',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer((id) => ({
      jsonrpc: '2.0',
      id: rpcId(id),
      error: { code: -32050, message: 'e'.repeat(30_000), data: 'd'.repeat(30_000) },
    })),
    expect: { result: 'upstream_error', message: /-32050: e+\.\.\. \(30000 characters\)/ },
  },
  {
    name: 'an error with id null',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer(() => ({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } })),
    expect: { result: 'upstream_error', message: /-32600/ },
  },
  {
    name: 'a result that is a string',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer((id) => ({ jsonrpc: '2.0', id: rpcId(id), result: 'ok' })),
    expect: { result: 'protocol_error' },
  },
  {
    name: 'a result nested 1,000 levels (past 512)',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: (id) => ({
      match: 'tools/call',
      times: 1,
      action: { kind: 'respond', body: `{"jsonrpc":"2.0","id":"${rpcId(id)}","result":{"content":[],"deep":${nest(1_000)}}}` },
    }),
    expect: { result: 'result_too_large', message: /nested/ },
  },
  {
    name: 'a redirect',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: onCall({ kind: 'status', status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere?token=t' } }),
    expect: { result: 'redirect_refused' },
  },
  {
    name: 'HTTP 400 with a garbage body',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: onCall({ kind: 'status', status: 400, body: '\u0000garbage' }),
    expect: { result: 'protocol_error', message: /HTTP 400/ },
  },
  {
    name: 'HTTP 413',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: onCall({ kind: 'status', status: 413 }),
    expect: { result: 'protocol_error', message: /HTTP 413/ },
  },
  {
    name: 'a JSON-RPC batch holding the answer',
    server: 'bad',
    payload: req({ tool: 'echo', arguments: { text: 'x' } }),
    fault: answer((id) => [
      { jsonrpc: '2.0', method: 'notifications/message', params: {} },
      { jsonrpc: '2.0', id: rpcId(id), result: { content: [] } },
    ]),
    expect: { completed: true },
  },
];

/** The case called `name`; throws when the corpus has none, so a renamed case fails its users loudly. */
export function caseNamed(name: string): Case {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`the bad-input corpus has no case "${name}"`);
  return c;
}

/** Where a case is published and its outcome read: the services' own names, or a tenant's. */
export interface CaseTarget {
  /** Publishes the submission (a tenant's goes through its account's JetStream API prefix). */
  js: JetStreamClient;
  /** The submit subject of a server alias in the target's prefix. */
  submitSubject: (server: string) => string;
  /** The call's result, as its caller reads it. */
  result: (callId: string) => Promise<ResultEvent>;
  /** The dead letters of the target's prefix (read as an operator: callers cannot). */
  deadLetters: () => Promise<DeadLetter[]>;
}

/** Publishes case `c` as call `id` to `target` and checks that it gets its outcome. */
export async function runCase(target: CaseTarget, c: Case, id: string): Promise<void> {
  const subject = target.submitSubject(c.server ?? 'demo') + (c.subjectTail ? `.${c.subjectTail}` : '');
  const payload = typeof c.payload === 'function' ? c.payload(id) : c.payload;
  const hdrs = natsHeaders();
  const ids = Array.isArray(c.msgId) ? c.msgId : [c.msgId ?? 'id'];
  for (const m of ids) if (m !== 'none') hdrs.append('Nats-Msg-Id', m === 'id' ? id : m);
  for (const [k, v] of Object.entries(c.headers ?? {})) hdrs.set(k, v);
  const ack = await target.js.publish(subject, payload, { headers: hdrs });
  if ('completed' in c.expect) {
    const r = await target.result(id);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('completed');
  } else if ('result' in c.expect) {
    const r = await target.result(id);
    expect(r.status).toBe(c.expect.status ?? 'failed');
    expect(r.error?.code).toBe(c.expect.result);
    if (c.expect.message) expect(r.error?.message).toMatch(c.expect.message);
    expect(Buffer.byteLength(JSON.stringify(r.error))).toBeLessThanOrEqual(CORPUS_LIMITS.maxErrorBytes);
  } else {
    const letter = await waitFor('the dead letter', async () => (await target.deadLetters()).find((d) => d.seq === ack.seq), 20_000);
    expect(letter.code).toBe(c.expect.deadLetter);
    if (c.expect.message) expect(letter.message).toMatch(c.expect.message);
    if (c.expect.truncated) {
      expect(letter.payloadTruncated).toBe(true);
      expect((payload as string).startsWith(letter.payload!)).toBe(true);
    } else if (payload instanceof Uint8Array) expect(Buffer.from(letter.payloadBase64!, 'base64')).toEqual(Buffer.from(payload));
    else expect(letter.payload).toBe(payload);
  }
}
