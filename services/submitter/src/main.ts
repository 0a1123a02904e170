#!/usr/bin/env node
/**
 * Entry point of the submitter service. Reads NATS_URL, MCPQ_CONFIG,
 * MCPQ_PREFIX, LOG_LEVEL, MCPQ_HTTP_PORT. SIGTERM drains and exits 0.
 */
import { bootService, createLogger, describeError, handleSignals } from '@mcpq/shared';
import { Submitter } from './submitter.js';

try {
  const ctx = await bootService({ service: 'submitter', consumers: ['submitter'] });
  const submitter = new Submitter(ctx);
  submitter.start();
  const graceMs = ctx.config.submitter.dispatchTimeoutMs + 5_000;
  handleSignals({
    logger: ctx.logger,
    graceMs,
    stop: async () => {
      await submitter.stop(graceMs - 2_000);
      await ctx.nc.drain();
    },
  });
} catch (err) {
  createLogger('submitter').fatal({ err: describeError(err) }, 'submitter could not start');
  process.exit(1);
}
