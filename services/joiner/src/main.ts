#!/usr/bin/env node
/**
 * Entry point of the joiner service. Reads NATS_URL, MCPQ_CONFIG,
 * MCPQ_PREFIX, LOG_LEVEL, MCPQ_HTTP_PORT. SIGTERM hands followed calls back
 * to the other joiners and exits 0. Run as many as you like.
 */
import { serviceCli, bootService, createLogger, describeError, handleSignals, startObservability } from '@mcpq/shared';
import { Joiner } from './joiner.js';
import { answerJoinerReports, trackParked } from './joiner-report.js';

serviceCli({
  name: 'joiner',
  summary: 'rejoins started MCP tool calls, publishes their progress and their one result; run as many as you like',
  packageJson: new URL('../package.json', import.meta.url),
});

try {
  const ctx = await bootService({ service: 'joiner', consumers: ['joiner'] });
  const joiner = new Joiner(ctx);
  const parked = trackParked(ctx.telemetry);
  const stopHttp = await startObservability(
    ctx,
    'joiner',
    { inFlight: () => joiner.inFlight, held: () => joiner.held, parked, watched: () => joiner.watchedByServer() },
    () => joiner.state === 'running',
  );
  joiner.start();
  answerJoinerReports(ctx, joiner.id, () => joiner.held, parked);
  // Resume- and task-mode calls are handed back at once; the grace is for calls held in hold mode, whose
  // messages keep their heartbeats meanwhile (so the short AckWait does not cut it). 10 s at least: with
  // the 4 s default AckWait, half of it would give a held call only 2 s to end before it is judged lost.
  const graceMs = Math.max(10_000, Math.floor(ctx.config.joiner.ackWaitMs / 2));
  handleSignals({
    logger: ctx.logger,
    graceMs,
    stop: async () => {
      await joiner.stop(graceMs - 1_000);
      await stopHttp();
      await ctx.nc.drain();
    },
  });
} catch (err) {
  createLogger('joiner').fatal({ err: describeError(err) }, 'joiner could not start');
  process.exit(1);
}
