/**
 * pino JSON logs. Every line about a call carries `callId` (use
 * `logger.child({ callId })`); header values are redacted wherever they appear.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to inspect lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers', '*.headers', 'authorization', '*.authorization', 'password', '*.password', 'token', '*.token'],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

/**
 * A child logger made on first use. A held call usually logs nothing until it
 * ends, and a pino child (its bindings serialized, its own object) would be
 * kept alive all that time for nothing: with thousands of held calls that
 * adds up. `bindings` is read when the first line is written.
 */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): Logger {
  let child: Logger | undefined;
  return new Proxy(parent, {
    get(_target, key) {
      child ??= parent.child(bindings());
      const value: unknown = Reflect.get(child, key, child);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
    },
  });
}
