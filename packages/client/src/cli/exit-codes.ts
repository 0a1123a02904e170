/** Exit codes of the mcpq command (documented in docs/cli.md). */
import type { ResultEvent } from '@mcpq/contract';

export const ExitCode = {
  ok: 0,
  /** Bad usage, or an error of mcpq itself (NATS unreachable, ...). */
  error: 1,
  /** The tool ran and returned a tool error (result.isError). */
  toolError: 2,
  failed: 3,
  cancelled: 4,
  /** The call passed its own deadline (timeoutMs). */
  timeout: 5,
  /** The command stopped waiting (--timeout on result/watch); the call goes on. */
  waitTimeout: 6,
  /** No call with that id (status), no dead letter with that sequence (dlq replay). */
  notFound: 7,
} as const;

export function exitCodeFor(result: ResultEvent): number {
  switch (result.status) {
    case 'completed':
      return result.result?.isError === true ? ExitCode.toolError : ExitCode.ok;
    case 'failed':
      return ExitCode.failed;
    case 'cancelled':
      return ExitCode.cancelled;
    case 'timeout':
      return ExitCode.timeout;
  }
}
