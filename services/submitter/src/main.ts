#!/usr/bin/env node
/**
 * Entry point of the submitter service. Reads NATS_URL, MCPQ_CONFIG,
 * MCPQ_PREFIX, LOG_LEVEL, MCPQ_HTTP_PORT. SIGTERM stops taking requests,
 * finishes the dispatches under way and exits 0.
 */
import { serviceCli, bootService, createLogger, describeError, handleSignals, startObservability } from '@mcpq/shared';
import { Submitter } from './submitter.js';

serviceCli({
  name: 'submitter',
  summary: 'takes queued MCP tool calls and starts them on their MCP servers, then hands them to the joiners',
  packageJson: new URL('../package.json', import.meta.url),
});

try {
  const ctx = await bootService({ service: 'submitter', consumers: ['submitter'] });
  const submitter = new Submitter(ctx);
  const stopHttp = await startObservability(ctx, 'submitter', { inFlight: () => submitter.inFlight }, () => submitter.state === 'running');
  submitter.start();
  // A dispatch is bounded by dispatchTimeoutMs; the grace period lets the last ones finish.
  const graceMs = ctx.config.submitter.dispatchTimeoutMs + 5_000;
  handleSignals({
    logger: ctx.logger,
    graceMs,
    stop: async () => {
      await submitter.stop(graceMs - 2_000);
      await stopHttp();
      await ctx.nc.drain();
    },
  });
} catch (err) {
  createLogger('submitter').fatal({ err: describeError(err) }, 'submitter could not start');
  process.exit(1);
}
