#!/usr/bin/env node
/**
 * Entry point of the joiner service. Reads NATS_URL, MCPQ_CONFIG,
 * MCPQ_PREFIX, LOG_LEVEL, MCPQ_HTTP_PORT. SIGTERM hands followed calls back
 * to the other joiners and exits 0. Run as many as you like.
 */
import { bootService, createLogger, describeError, handleSignals } from '@mcpq/shared';
import { Joiner } from './joiner.js';

try {
  const ctx = await bootService({ service: 'joiner', consumers: ['joiner'] });
  const joiner = new Joiner(ctx);
  joiner.start();
  // Handing back is quick; the bound stays well below AckWait so a forced exit loses no time either.
  const graceMs = Math.max(2_000, Math.floor(ctx.config.joiner.ackWaitMs / 2));
  handleSignals({
    logger: ctx.logger,
    graceMs,
    stop: async () => {
      await joiner.stop(graceMs - 1_000);
      await ctx.nc.drain();
    },
  });
} catch (err) {
  createLogger('joiner').fatal({ err: describeError(err) }, 'joiner could not start');
  process.exit(1);
}
