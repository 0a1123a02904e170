/**
 * The fast path: a resume-mode call answered while the submitter still
 * reads its POST stream is finished by the submitter itself (no join, no
 * joiner, no resume GET). The submitter reads for up to
 * `submitter.answerWindowMs` after sending tools/call; what the call sends
 * meanwhile is handled exactly as a joiner's resume follower would: progress
 * published with the same sequence numbers and dedupe keys (so a hand-off
 * mid-way never publishes an event twice), server requests answered. When
 * the window ends without the answer, the call is handed to the joiners at
 * the last event id read.
 */
import {
  answerServerRequest,
  isMcpqError,
  isNatsError,
  publishProgress,
  type CallRecord,
  type McpHttpClient,
  type McpSession,
  type ReadWindow,
  type ServiceContext,
  type Versioned,
} from '@mcpq/shared';

/** The record as the window advanced it, and the failure that ended the window early, if any. */
export interface WindowState {
  current: Versioned<CallRecord>;
  /** A lost compare-and-set (a cancel) or a NATS failure while publishing progress: the window stops reading. */
  failure?: unknown;
  /** Called when the server answered tools/call with its event stream (the call is started; see ReadWindow.onStreamOpen). */
  onStreamOpen?: () => void;
}

/** The read window of one dispatch; `state.current` follows every record write made in it. */
export function answerWindow(
  ctx: ServiceContext,
  state: WindowState,
  client: McpHttpClient,
  session: McpSession,
  dispatchTimeoutMs: number,
): ReadWindow {
  return {
    // Within the dispatch bound, with room left to leave the stream and record the hand-off.
    windowMs: Math.min(ctx.config.submitter.answerWindowMs, Math.floor(dispatchTimeoutMs / 2)),
    onStreamOpen: state.onStreamOpen,
    onEvent: async (event, eventId, lastEventId) => {
      if (event.kind === 'request') {
        void answerServerRequest(client, session, event.message);
        return;
      }
      const attempts = state.current.value.attempts;
      try {
        state.current = await publishProgress(ctx, state.current, event.update, (seq) => eventId ?? `r${attempts}.${seq}`, {
          lastEventId,
        });
      } catch (err) {
        if (!isMcpqError(err) && !isNatsError(err)) throw err;
        state.failure = err;
        return 'leave';
      }
    },
  };
}

/**
 * Fault injector for tests (MCPQ_FAULT_SUBMITTER_KILL_AFTER_ANSWER=1): the
 * submitter SIGKILLs itself right after the answer arrived on the fast path
 * and before recording it, the one moment a crash leaves a call answered
 * upstream but not in mcpq. Never set it in production.
 */
export function faultAfterAnswer(): void {
  if (process.env.MCPQ_FAULT_SUBMITTER_KILL_AFTER_ANSWER === '1') process.kill(process.pid, 'SIGKILL');
}
