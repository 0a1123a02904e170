/**
 * Process signals for services: the first SIGTERM or SIGINT starts a
 * graceful stop (bounded by `graceMs`), a second one, or the bound, exits at
 * once. Nothing is lost by the forced exit: unacknowledged messages are
 * redelivered by JetStream. Unhandled rejections are logged, not fatal: a
 * bad message must never take a service down.
 */
import { describeError } from '@mcpq/contract';
import type { Logger } from '../log.js';

export interface ShutdownOptions {
  logger: Logger;
  graceMs: number;
  stop: (signal: string) => Promise<void>;
  /** For tests; defaults to process.exit. */
  exit?: (code: number) => void;
}

export function handleSignals(options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.logger.warn({ signal }, 'second signal: exiting now; unacknowledged work is redelivered by JetStream');
      exit(1);
      return;
    }
    stopping = true;
    options.logger.info({ signal, graceMs: options.graceMs }, 'stopping');
    const bound = setTimeout(() => {
      options.logger.warn({ graceMs: options.graceMs }, 'graceful stop took too long: exiting now');
      exit(1);
    }, options.graceMs);
    bound.unref();
    options.stop(signal).then(
      () => {
        clearTimeout(bound);
        options.logger.info('stopped');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(bound);
        options.logger.error({ err: describeError(err) }, 'error while stopping');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (reason) => {
    options.logger.error({ err: describeError(reason) }, 'unhandled promise rejection (kept running)');
  });
}
