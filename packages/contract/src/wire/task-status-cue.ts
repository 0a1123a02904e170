/**
 * `<prefix>.ctl.taskstatus.<server>`: core NATS (not stored). The joiner that
 * holds a session's task-status stream (an MCP server such as the TypeScript
 * SDK v1 allows one per session) passes each well-formed
 * `notifications/tasks/status` it hears on to every other joiner, whose parked
 * calls of that session are then woken as by their own stream.
 *
 * A cue is a hint, never a fact: a receiver only wakes a parked call of that
 * task (its tasks/get decides what the status means), with the same spacing
 * as a notification of its own stream. Anyone allowed to publish there can
 * lie; a cue that fails this schema, or is larger than TASK_STATUS_CUE_MAX_BYTES,
 * is counted and dropped.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Largest cue a joiner reads (bytes of JSON): two clipped texts (clipEventText, 1,027 characters each) and ids fit. */
export const TASK_STATUS_CUE_MAX_BYTES = 16 * 1024;
/** Longest clipped text (clipEventText: 1,024 characters, then `...`). */
const MAX_TEXT_CHARS = 1024 + 3;

export const TaskStatusCueSchema = z.object({
  /** The id of the joiner that heard the notification (host-pid-random): a joiner ignores its own cues. */
  joiner: z.string().min(1).max(256),
  /** taskSessionTag of the task's MCP session: not the session id, which lets its holder act in the session. */
  session: z.string().regex(/^[0-9a-f]{32}$/),
  taskId: z.string().min(1).max(1024),
  /** As the server said it, clipped as call records keep it. */
  status: z.string().min(1).max(MAX_TEXT_CHARS),
  statusMessage: z.string().max(MAX_TEXT_CHARS).optional(),
});
export type TaskStatusCue = z.infer<typeof TaskStatusCueSchema>;

/**
 * The non-secret name of an MCP session in a cue: the first 16 bytes, in hex, of the SHA-256 of
 * `<sessionId>\n<protocolVersion>`. Whoever knows the session can compute it; a cue reader cannot
 * get the session id back.
 */
export function taskSessionTag(sessionId: string, protocolVersion: string): string {
  return createHash('sha256').update(`${sessionId}\n${protocolVersion}`).digest('hex').slice(0, 32);
}
