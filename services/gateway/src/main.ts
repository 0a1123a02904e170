#!/usr/bin/env node
/**
 * Entry point of the gateway service. Reads NATS_URL, MCPQ_CONFIG,
 * MCPQ_PREFIX, LOG_LEVEL, MCPQ_HTTP_PORT (health and metrics) and
 * MCPQ_GATEWAY_PORT (the MCP endpoint). SIGTERM stops taking requests,
 * gives open ones a few seconds and exits 0; the calls they started go on.
 */
import { BearerTokens, bootService, serviceCli, createLogger, describeError, handleSignals, startObservability } from '@mcpq/shared';
import { startGateway } from './start.js';

/** How long open requests (synchronous calls waiting for their result) get on SIGTERM before their connections close. */
const DRAIN_MS = 5_000;

serviceCli({
  name: 'gateway',
  summary: 'an MCP server whose tool calls are durable mcpq calls (MCPQ_GATEWAY_PORT, endpoint /mcp)',
  packageJson: new URL('../package.json', import.meta.url),
});

try {
  const ctx = await bootService({ service: 'gateway' });
  const { gateway, close } = await startGateway(ctx, new BearerTokens(ctx.config.gateway.tokens));
  const stopHttp = await startObservability(ctx, 'gateway', { inFlight: () => gateway.inFlight }, () => gateway.state === 'running');
  ctx.logger.info({ url: gateway.url }, 'gateway running');
  handleSignals({
    logger: ctx.logger,
    graceMs: DRAIN_MS + 5_000,
    stop: async () => {
      await gateway.stop(DRAIN_MS);
      await close();
      await stopHttp();
      await ctx.nc.drain();
    },
  });
} catch (err) {
  createLogger('gateway').fatal({ err: describeError(err) }, 'gateway could not start');
  process.exit(1);
}
