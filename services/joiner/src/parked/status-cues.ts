/**
 * Task status cues between joiners (joiner.shareTaskStatus): what the joiner
 * holding a session's task-status stream hears is passed on over core NATS,
 * `<prefix>.ctl.taskstatus.<server>` (TaskStatusCue, not stored: a cue lost is
 * a wake left to the polls), so the other joiners' parked calls of that
 * session are woken by it too.
 *
 * A cue is untrusted input (anyone allowed to publish there can send one):
 * larger than TASK_STATUS_CUE_MAX_BYTES, not JSON or not a TaskStatusCue, or
 * for a server alias this joiner does not know, it is counted and dropped;
 * one that passes is handed to the task watcher, which only ever wakes a
 * parked call with it (at most once per joiner.pollMinMs per task). A
 * joiner's own cues come back to it (NATS echoes) and are ignored.
 */
import type { Subscription } from '@nats-io/nats-core';
import {
  clipEventText,
  describeError,
  TASK_STATUS_CUE_MAX_BYTES,
  TaskStatusCueSchema,
  type ServiceContext,
  type TaskStatusCue,
} from '@mcpq/shared';

export class TaskStatusCues {
  private sub: Subscription | undefined;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly ctx: Pick<ServiceContext, 'nc' | 'names' | 'config' | 'telemetry' | 'logger'>,
    /** This joiner's id: the cues it publishes carry it, and it ignores those it receives. */
    private readonly joinerId: string,
    /** A well-formed cue of another joiner, for a configured server. */
    private readonly onCue: (server: string, cue: TaskStatusCue) => void,
  ) {}

  start(): void {
    this.sub = this.ctx.nc.subscribe(this.ctx.names.controlTaskStatusWildcard, {
      callback: (err, msg) => {
        if (!err) this.take(msg.subject, msg.data);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** Passes a status heard on this joiner's stream on to the others. A cue that cannot be valid (a task id past the bound) is not sent. */
  publish(server: string, session: string, taskId: string, status: string, message: string | undefined): void {
    if (!this.sub) return;
    const cue: TaskStatusCue = { joiner: this.joinerId, session, taskId, status: clipEventText(status) };
    if (message !== undefined) cue.statusMessage = clipEventText(message);
    if (!TaskStatusCueSchema.safeParse(cue).success) return;
    try {
      this.ctx.nc.publish(this.ctx.names.controlTaskStatus(server), JSON.stringify(cue));
      this.ctx.telemetry.emit('task:cue', { server, outcome: 'published' });
    } catch (err) {
      // A closed or draining connection: the others poll as before.
      this.ctx.logger.debug({ server, err: describeError(err) }, 'could not pass a task status on to the other joiners');
    }
  }

  private take(subject: string, data: Uint8Array): void {
    const alias = this.ctx.names.serverFromTaskStatusSubject(subject);
    // An alias this joiner does not serve is not a label (anyone could mint them).
    const server = alias !== undefined && this.ctx.config.servers[alias] ? alias : '';
    const drop = () => this.ctx.telemetry.emit('task:cue', { server, outcome: 'malformed' });
    if (!server || data.length > TASK_STATUS_CUE_MAX_BYTES) return drop();
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.decoder.decode(data));
    } catch {
      return drop();
    }
    const cue = TaskStatusCueSchema.safeParse(parsed);
    if (!cue.success) return drop();
    if (cue.data.joiner === this.joinerId) return;
    this.onCue(server, cue.data);
  }
}
