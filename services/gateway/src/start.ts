/** Assembles a gateway from a booted service context: the mcpq client, the task view of calls, the tool directory, the HTTP face. */
import { McpqClient } from '@mcpq/client';
import { ServerCatalog, type BearerTokens, type ServiceContext } from '@mcpq/shared';
import { ArgumentCheck } from './argument-check.js';
import { CallTasks } from './call-tasks.js';
import { Gateway } from './gateway.js';
import { ToolDirectory } from './tool-directory.js';

export async function startGateway(ctx: ServiceContext, tokens: BearerTokens): Promise<{ gateway: Gateway; close: () => Promise<void> }> {
  const { config } = ctx;
  const client = new McpqClient(ctx.nc, { prefix: config.prefix });
  const directory = new ToolDirectory(config, await ServerCatalog.open(ctx.nc, ctx.names), ctx.logger);
  const gateway = new Gateway(
    {
      client,
      tasks: new CallTasks(
        client,
        ctx.jsm,
        ctx.names,
        ctx.events,
        { js: ctx.js, kv: ctx.kv },
        {
          pageSize: config.gateway.tasksListPageSize,
          scanLimit: config.gateway.tasksListScanLimit,
        },
      ),
      directory,
      arguments: new ArgumentCheck(),
      taskTtlMs: config.streams.eventsMaxAgeMs,
      cancelOnDisconnect: config.gateway.cancelOnDisconnect,
      logger: ctx.logger,
    },
    {
      port: config.gateway.port,
      host: config.gateway.host,
      tokens,
      maxArgumentsBytes: config.limits.maxArgumentsBytes,
      logger: ctx.logger,
    },
  );
  await gateway.start();
  return { gateway, close: () => directory.close() };
}
