/**
 * The tools of the 2026-era test servers: `echo`, `slow` (progress
 * notifications on the request's own stream; records whether closing that
 * stream cancelled it), `count` (how many times it ran, by tag), `task_slow`
 * (becomes a task when the request declares the tasks extension, runs inline
 * otherwise), `confirm` (answers `input_required` until the client sends the
 * confirmation) and `regional` (an argument marked `x-mcp-header`).
 * Every run is counted in the log, keyed by mcpq's call id or the `tag`.
 */
import { inputRequired, acceptedContent, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Server2026Log } from './stats.js';
import { declaresTasks, type TaskBoard } from './tasks.js';

/** `_meta` key with mcpq's call id (same as mcpq's CALL_ID_META_KEY). */
export const CALL_ID_META_KEY = 'io.mcpq/callId';

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

function keyOf(ctx: ServerContext, tag: string | undefined): string {
  const callId = (ctx.mcpReq._meta as Record<string, unknown> | undefined)?.[CALL_ID_META_KEY];
  return typeof callId === 'string' ? callId : (tag ?? 'untagged');
}

export function registerTools(server: McpServer, log: Server2026Log, tasks: TaskBoard): void {
  server.registerTool(
    'echo',
    { description: 'Echoes text', inputSchema: z.object({ text: z.string(), tag: z.string().optional() }) },
    (args, ctx) => {
      log.start('echo', keyOf(ctx, args.tag));
      return text(args.text);
    },
  );

  server.registerTool(
    'slow',
    {
      description: 'Works for durationMs in `steps` steps, reporting progress after each',
      inputSchema: z.object({ durationMs: z.number().int().min(0), steps: z.number().int().min(1).default(5), tag: z.string().optional() }),
    },
    async (args, ctx) => {
      const key = keyOf(ctx, args.tag);
      log.start('slow', key);
      const progressToken = (ctx.mcpReq._meta as Record<string, unknown> | undefined)?.progressToken;
      for (let step = 1; step <= args.steps; step++) {
        const stopped = await sleep(args.durationMs / args.steps, ctx.mcpReq.signal);
        if (stopped) {
          log.cancelledByStream(key);
          return text('cancelled');
        }
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken: progressToken as string, progress: step, total: args.steps, message: `step ${step}/${args.steps}` },
          });
        }
      }
      return text(`slow done after ${args.steps} steps`);
    },
  );

  server.registerTool('count', { description: 'Counts its runs by tag', inputSchema: z.object({ tag: z.string() }) }, (args, ctx) => {
    log.start('count', keyOf(ctx, args.tag));
    return text(`counted ${args.tag}`);
  });

  server.registerTool(
    'task_slow',
    {
      description: 'A long job: a task (tasks extension) when the request declares it, else runs inline',
      inputSchema: z.object({
        durationMs: z.number().int().min(0),
        tag: z.string().optional(),
        fail: z.boolean().optional(),
        askFirst: z.boolean().optional(),
      }),
    },
    async (args, ctx) => {
      const key = keyOf(ctx, args.tag);
      log.start('task_slow', key);
      const finish = (): { result: Record<string, unknown> } | { error: { code: number; message: string } } =>
        args.fail ? { error: { code: -32603, message: `task ${key} failed on request` } } : { result: text(`task ${key} done`) };
      if (declaresTasks(ctx)) {
        const input = args.askFirst
          ? {
              go: inputRequired.elicit({ message: 'Go on?', requestedSchema: { type: 'object', properties: { go: { type: 'boolean' } } } }),
            }
          : undefined;
        return tasks.create(args.durationMs, finish, input) as never;
      }
      await sleep(args.durationMs, ctx.mcpReq.signal);
      const end = finish();
      if ('error' in end) throw new Error(end.error.message);
      return end.result as never;
    },
  );

  server.registerTool(
    'confirm',
    { description: 'Asks the client to confirm (input_required) before it answers', inputSchema: z.object({ action: z.string() }) },
    (args, ctx) => {
      const ok = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
      if (ok?.confirm !== true) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: `Really ${args.action}?`,
              requestedSchema: { type: 'object', properties: { confirm: { type: 'boolean' } }, required: ['confirm'] },
            }),
          },
        });
      }
      log.start('confirm', keyOf(ctx, args.action));
      return text(`confirmed ${args.action}`);
    },
  );

  server.registerTool(
    'regional',
    {
      description: 'Has an argument mirrored into the Mcp-Param-Region header',
      inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }), query: z.string() }),
    },
    (args, ctx) => {
      log.start('regional', keyOf(ctx, args.region));
      return text(`${args.region}: ${args.query}`);
    },
  );
}

/** Sleeps `ms`; resolves true at once when `signal` fires (the request was cancelled). */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
