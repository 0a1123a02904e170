/**
 * The 2026-07-28 wire rules that need no server: header value encoding,
 * `x-mcp-header` marks, `resultType` parsing, the envelope.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseModernMode,
  clientCapabilities,
  ErrorCode,
  headerValue,
  McpqError,
  paramHeaders,
  paramHeadersOf,
  parseModernResult,
  routingHeaders,
  withEnvelope,
} from '@mcpq/shared';

function thrown(f: () => unknown): McpqError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(McpqError);
    return err as McpqError;
  }
  throw new Error('expected a throw');
}

describe('header values (spec: streamable-http.mdx, Value Encoding)', () => {
  it('encodes exactly the spec table: plain ASCII as is, non-ASCII, edge spaces, newlines and the sentinel itself as base64', () => {
    expect(headerValue('us-west1')).toBe('us-west1');
    expect(headerValue('a b')).toBe('a b');
    expect(headerValue('Hello, 世界')).toBe('=?base64?SGVsbG8sIOS4lueVjA==?=');
    expect(headerValue(' padded ')).toBe('=?base64?IHBhZGRlZCA=?=');
    expect(headerValue('line1\nline2')).toBe('=?base64?bGluZTEKbGluZTI=?=');
    expect(headerValue('=?base64?literal?=')).toBe('=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=');
    expect(headerValue('')).toBe('=?base64??=');
  });

  it('Mcp-Name carries the tool name on tools/call and the task id on tasks/*', () => {
    expect(routingHeaders('tools/call', { name: 'échos' })).toEqual({ 'mcp-method': 'tools/call', 'mcp-name': '=?base64?w6ljaG9z?=' });
    expect(routingHeaders('tasks/get', { taskId: 't-1', name: 'ignored' })).toEqual({ 'mcp-method': 'tasks/get', 'mcp-name': 't-1' });
    expect(routingHeaders('tools/list', undefined)).toEqual({ 'mcp-method': 'tools/list' });
  });
});

describe('x-mcp-header marks', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      opts: {
        type: 'object',
        properties: { dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' }, n: { type: 'integer', 'x-mcp-header': 'N' } },
      },
    },
  };

  it('finds marks through nested properties and mirrors present values (absent ones give no header)', () => {
    const marks = paramHeadersOf('t', schema);
    expect(marks).toEqual([
      { header: 'Region', path: ['region'] },
      { header: 'Dry-Run', path: ['opts', 'dryRun'] },
      { header: 'N', path: ['opts', 'n'] },
    ]);
    expect(paramHeaders(marks, { region: 'eu', opts: { dryRun: false, n: -7 } })).toEqual({
      'mcp-param-region': 'eu',
      'mcp-param-dry-run': 'false',
      'mcp-param-n': '-7',
    });
    expect(paramHeaders(marks, { opts: {} })).toEqual({});
  });

  it('rejects a tool whose marks break the rules: under items, on a number, not a token, used twice', () => {
    const bad = (s: Record<string, unknown>) => thrown(() => paramHeadersOf('t', { type: 'object', ...s })).code;
    expect(bad({ properties: { xs: { type: 'array', items: { type: 'string', 'x-mcp-header': 'X' } } } })).toBe(ErrorCode.protocol_error);
    expect(bad({ properties: { x: { type: 'number', 'x-mcp-header': 'X' } } })).toBe(ErrorCode.protocol_error);
    expect(bad({ properties: { x: { type: 'string', 'x-mcp-header': 'X Y' } } })).toBe(ErrorCode.protocol_error);
    expect(bad({ properties: { a: { type: 'string', 'x-mcp-header': 'A' }, b: { type: 'string', 'x-mcp-header': 'a' } } })).toBe(
      ErrorCode.protocol_error,
    );
    expect(bad({ anyOf: [{ properties: { x: { type: 'string', 'x-mcp-header': 'X' } } }] })).toBe(ErrorCode.protocol_error);
  });

  it('a marked argument that is not a primitive is invalid_arguments', () => {
    expect(thrown(() => paramHeaders([{ header: 'N', path: ['n'] }], { n: 1.5 })).code).toBe(ErrorCode.invalid_arguments);
  });
});

describe('resultType', () => {
  it('parses complete (also when absent), task and input_required; an unknown resultType is a protocol_error', () => {
    expect(parseModernResult({ content: [] }, 'tools/call')).toEqual({ kind: 'complete', result: { content: [] } });
    expect(parseModernResult({ resultType: 'task', taskId: 't', status: 'working', ttlMs: null }, 'tools/call')).toMatchObject({
      kind: 'task',
      task: { taskId: 't', status: 'working', ttlMs: null },
    });
    expect(parseModernResult({ resultType: 'input_required', inputRequests: { a: {} } }, 'tools/call')).toEqual({
      kind: 'input_required',
      inputRequests: { a: {} },
      requestState: undefined,
    });
    expect(thrown(() => parseModernResult({ resultType: 'later' }, 'tools/call')).code).toBe(ErrorCode.protocol_error);
    expect(thrown(() => parseModernResult({ resultType: 'task', status: 'working' }, 'tools/call')).code).toBe(ErrorCode.protocol_error);
    expect(thrown(() => parseModernResult({ resultType: 'input_required' }, 'tools/call')).code).toBe(ErrorCode.protocol_error);
  });
});

describe('the envelope', () => {
  it('adds version, capabilities (with the tasks extension when asked) and clientInfo, keeping the caller _meta', () => {
    const params = withEnvelope({ name: 'x', _meta: { progressToken: 'p' } }, clientCapabilities(true, { elicitation: {} }));
    expect(params).toEqual({
      name: 'x',
      _meta: {
        progressToken: 'p',
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': { elicitation: {}, extensions: { 'io.modelcontextprotocol/tasks': {} } },
        'io.modelcontextprotocol/clientInfo': { name: 'mcpq', version: '0.1.0' },
      },
    });
  });
});

describe('rejoin mode on a 2026-07-28 server', () => {
  const withTasks = {
    protocol: '2026-07-28' as const,
    discover: { supportedVersions: ['2026-07-28'], capabilities: {}, serverInfo: {}, tasks: true },
  };
  const without = { protocol: '2026-07-28' as const, discover: { ...withTasks.discover, tasks: false } };

  it('auto picks task when server/discover offers the tasks extension, else hold', () => {
    expect(chooseModernMode('auto', withTasks, 's')).toBe('task');
    expect(chooseModernMode('auto', without, 's')).toBe('hold');
    expect(chooseModernMode('auto', { protocol: '2026-07-28' }, 's')).toBe('hold');
  });

  it('resume (no resumption in 2026-07-28) and task without the extension are mode_unsupported', () => {
    expect(thrown(() => chooseModernMode('resume', withTasks, 's')).code).toBe(ErrorCode.mode_unsupported);
    expect(thrown(() => chooseModernMode('task', without, 's')).code).toBe(ErrorCode.mode_unsupported);
    expect(chooseModernMode('hold', withTasks, 's')).toBe('hold');
  });
});
