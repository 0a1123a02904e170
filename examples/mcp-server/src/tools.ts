/**
 * The example tools: `echo` (instant), `slow` (runs for a while and reports
 * progress; not idempotent), `slow_idempotent` (the same, declared
 * idempotent), `fail` (a tool error, isError: true), `needs_browser`
 * (a JSON-RPC error) and `gated` (answers when its gate is opened).
 * Every run is counted in the ExecutionLog.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  McpError,
  ErrorCode,
  UrlElicitationRequiredError,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ExecutionLog } from './stats.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolOptions {
  /** Close the request's SSE stream when it starts and after every progress step (SEP-1699 polling): clients must keep resuming. */
  closeStreams?: boolean;
}

/** mcpq puts its call id in `_meta` under this key; the example server counts runs by it. */
export const CALL_ID_META_KEY = 'io.mcpq/callId';

export function callKey(extra: Extra, args: { tag?: string | undefined }): string {
  const fromMeta = extra._meta?.[CALL_ID_META_KEY];
  if (typeof fromMeta === 'string') return fromMeta;
  return args.tag ?? 'anonymous';
}

const slowInput = {
  durationMs: z.number().int().min(0).max(3_600_000).default(2_000).describe('how long the tool runs'),
  steps: z.number().int().min(0).max(10_000).default(5).describe('progress notifications sent along the way'),
  label: z.string().default('').describe('echoed in the result'),
  tag: z.string().optional().describe('counts runs when no mcpq call id is present'),
};

export function registerTools(server: McpServer, log: ExecutionLog, options: ToolOptions = {}): void {
  server.registerTool(
    'echo',
    {
      description: 'Returns its text at once.',
      inputSchema: { text: z.string(), tag: z.string().optional() },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async (args, extra): Promise<CallToolResult> => {
      log.start('echo', callKey(extra, args), extra._meta?.traceparent);
      log.complete();
      return { content: [{ type: 'text', text: args.text }] };
    },
  );

  const slow =
    (name: string) =>
    async (args: z.infer<z.ZodObject<typeof slowInput>>, extra: Extra): Promise<CallToolResult> => {
      const key = callKey(extra, args);
      log.start(name, key, extra._meta?.traceparent);
      if (options.closeStreams) extra.closeSSEStream?.();
      const token = extra._meta?.progressToken;
      const pause = args.steps > 0 ? args.durationMs / args.steps : args.durationMs;
      for (let i = 1; i <= Math.max(1, args.steps); i++) {
        if (!(await sleep(pause, extra.signal))) {
          log.cancel(key);
          throw new McpError(ErrorCode.RequestTimeout, 'cancelled');
        }
        if (token !== undefined && args.steps > 0) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: args.steps, message: `step ${i} of ${args.steps}` },
          });
        }
        if (options.closeStreams) extra.closeSSEStream?.();
      }
      log.complete();
      return {
        content: [{ type: 'text', text: `${name} done: ${args.label}` }],
        structuredContent: { label: args.label, steps: args.steps, key },
      };
    };

  server.registerTool(
    'slow',
    {
      description: 'Runs for durationMs, reporting progress in `steps` steps. Not idempotent.',
      inputSchema: slowInput,
      annotations: { idempotentHint: false },
    },
    slow('slow'),
  );
  server.registerTool(
    'slow_idempotent',
    {
      description: 'Like slow, and declared idempotent: safe to run twice.',
      inputSchema: slowInput,
      annotations: { idempotentHint: true },
    },
    slow('slow_idempotent'),
  );

  server.registerTool(
    'fail',
    {
      description: 'Returns a tool error (isError: true).',
      inputSchema: { message: z.string().default('it failed'), tag: z.string().optional() },
    },
    async (args, extra): Promise<CallToolResult> => {
      log.start('fail', callKey(extra, args));
      log.complete();
      return { isError: true, content: [{ type: 'text', text: args.message }] };
    },
  );
}

/** A tool whose result is as large as asked: for testing result limits. */
export function registerBigTool(server: McpServer, log: ExecutionLog): void {
  server.registerTool(
    'big',
    {
      description: 'Returns a text of `bytes` characters.',
      inputSchema: {
        bytes: z
          .number()
          .int()
          .min(0)
          .max(16 * 1024 * 1024),
        tag: z.string().optional(),
      },
    },
    async (args, extra): Promise<CallToolResult> => {
      log.start('big', callKey(extra, args), extra._meta?.traceparent);
      log.complete();
      return { content: [{ type: 'text', text: 'x'.repeat(args.bytes) }] };
    },
  );
}

/** Registered with the others: a tool whose answer is a JSON-RPC error, not a CallToolResult. */
export function registerErrorTool(server: McpServer, log: ExecutionLog): void {
  server.registerTool(
    'needs_browser',
    {
      description:
        'After delayMs, answers with a JSON-RPC error (-32042, URL elicitation required): the one error McpServer does not turn into a tool result.',
      inputSchema: { delayMs: z.number().int().min(0).max(600_000).default(0), tag: z.string().optional() },
    },
    async (args, extra): Promise<CallToolResult> => {
      log.start('needs_browser', callKey(extra, args), extra._meta?.traceparent);
      await sleep(args.delayMs, extra.signal);
      throw new UrlElicitationRequiredError([
        { mode: 'url', message: 'open this page to continue', url: 'https://example.invalid/consent', elicitationId: 'e1' },
      ]);
    },
  );
}

/**
 * Named gates the `gated` tool waits on. Opening one (ExampleServer.openGate)
 * makes every call waiting on it answer, and later ones answer at once: a
 * test picks the moment the tool answers, say, after it has taken NATS down.
 */
export class Gates {
  private readonly opened = new Set<string>();
  private readonly waiting = new Map<string, Array<() => void>>();

  open(name: string): void {
    this.opened.add(name);
    for (const wake of this.waiting.get(name) ?? []) wake();
    this.waiting.delete(name);
  }

  /** Resolves true once `name` is open, false when `signal` aborts or `timeoutMs` passes first. */
  wait(name: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.opened.has(name)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const list = this.waiting.get(name) ?? [];
      const wake = () => done(true);
      const done = (opened: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        // A call that gave up leaves no waker behind.
        if (!opened) list.splice(list.indexOf(wake), 1);
        resolve(opened);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(onAbort, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      list.push(wake);
      this.waiting.set(name, list);
    });
  }
}

/** Registered with the others: a tool that answers when the test opens its gate. Not idempotent. */
export function registerGatedTool(server: McpServer, log: ExecutionLog, gates: Gates): void {
  server.registerTool(
    'gated',
    {
      description: 'Answers when its gate is opened (ExampleServer.openGate); a tool error if it is not opened within timeoutMs.',
      inputSchema: { gate: z.string(), timeoutMs: z.number().int().min(0).max(600_000).default(60_000), tag: z.string().optional() },
      annotations: { idempotentHint: false },
    },
    async (args, extra): Promise<CallToolResult> => {
      log.start('gated', callKey(extra, args), extra._meta?.traceparent);
      const opened = await gates.wait(args.gate, args.timeoutMs, extra.signal);
      log.complete();
      if (!opened) return { isError: true, content: [{ type: 'text', text: `gate ${args.gate} was not opened` }] };
      return { content: [{ type: 'text', text: `gate ${args.gate} opened` }] };
    },
  );
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
