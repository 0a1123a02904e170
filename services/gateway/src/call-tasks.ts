/**
 * mcpq calls seen as MCP tasks, for one principal. Everything is read from
 * mcpq's shared state (the KV call record, the events stream), never from
 * this process's memory, so any gateway replica answers for any task.
 *
 * The task-id rule: a task id is the mcpq call id, minted for the tenant
 * (`newTenantCallId`), so its owner is known from the id alone; another
 * tenant's id is "not found". Before the call is queued the gateway
 * publishes a `queued` status event for it (the acceptance marker): a call
 * with no record yet (no submitter has claimed it) is `working` when that
 * marker exists, and unknown otherwise. A made-up id, even of the right
 * tenant, has no marker and no record, so it is "not found" at once.
 *
 * Every read here rides out NATS failing within a bound (`readWhileNatsFails`,
 * as McpqClient's own reads do) and then fails with `nats_error`: "not
 * found" is only ever the answer of reads that succeeded.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import {
  CALL_ID_PATTERN,
  describeError,
  ErrorCode,
  mayAccessCall,
  McpqError,
  newTenantCallId,
  readWhileNatsFails,
  StatusEventSchema,
  type CallEvents,
  type CallStatus,
  type CancelReply,
  type Names,
  type Principal,
  type ResultEvent,
} from '@mcpq/shared';
import { scanRecords, toCallInfo, type CallInfo, type McpqClient, type RecordSource } from '@mcpq/client';

/** The MCP task states (2025-11-25 and the 2026-07-28 extension share them). */
export type TaskState = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

export interface CallTask {
  taskId: string;
  status: TaskState;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
}

/** Suggested time between two `tasks/get` of a host. */
export const TASK_POLL_INTERVAL_MS = 1_000;

/** How long `tasks/result` (and the result of a finished task) waits for the result event once the record says the call ended. */
const RESULT_WAIT_MS = 30_000;

/** Bound on one tasks/list pass over the records, NATS failures ridden out included (a cut pass goes on from where it stopped, on the next page). */
const LIST_TIMEOUT_MS = 10_000;

/** Bound on the reads of one tasks/get (the record, then the acceptance marker), NATS failures ridden out included. */
const GET_TIMEOUT_MS = 10_000;

/** How tasks/list pages: tasks per page, and records read per request at most (`gateway.tasksListPageSize`, `gateway.tasksListScanLimit`). */
export interface TaskListLimits {
  pageSize: number;
  scanLimit: number;
}

export interface SubmitCall {
  server: string;
  tool: string;
  arguments?: Record<string, unknown> | undefined;
  /** The host's W3C traceparent: the call's spans join the host's trace. */
  traceparent?: string | undefined;
}

export class CallTasks {
  constructor(
    private readonly client: McpqClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
    private readonly events: CallEvents,
    private readonly records: RecordSource,
    private readonly listLimits: TaskListLimits,
  ) {}

  /**
   * Queues the call for `principal` and returns its id once JetStream has
   * accepted it. The acceptance marker goes first: an id is handed out only
   * after both are stored, and a marker whose submission then failed names
   * an id nobody was given.
   */
  async submit(principal: Principal, call: SubmitCall): Promise<{ callId: string; acceptedAt: string }> {
    const callId = newTenantCallId(principal.tenant);
    const acceptedAt = new Date().toISOString();
    await this.events.status(callId, 'queued', { detail: 'accepted by the gateway', key: 'gateway' }).catch((err: unknown) => {
      throw new McpqError(ErrorCode.nats_error, `could not record the call's acceptance: ${describeError(err)}`, { cause: err });
    });
    await this.client.submit(call.server, call.tool, call.arguments, {
      callId,
      ...(call.traceparent ? { traceparent: call.traceparent } : {}),
    });
    return { callId, acceptedAt };
  }

  /** The task, or undefined when `principal` has no task with this id. */
  async get(principal: Principal, taskId: string): Promise<CallTask | undefined> {
    if (!this.visible(principal, taskId)) return undefined;
    const until = Date.now() + GET_TIMEOUT_MS;
    const info = await this.client.status(taskId, { timeoutMs: GET_TIMEOUT_MS });
    if (info) return fromCallInfo(info);
    const marker = await this.marker(taskId, until);
    return marker ? { taskId, status: 'working', statusMessage: 'queued', createdAt: marker, lastUpdatedAt: marker } : undefined;
  }

  /** Waits for the call's result (bounded by `signal`; the call goes on when the wait stops). */
  async result(principal: Principal, taskId: string, signal?: AbortSignal): Promise<ResultEvent> {
    if (!this.visible(principal, taskId)) throw notFound(taskId);
    return this.client.result(taskId, signal ? { signal } : { timeoutMs: RESULT_WAIT_MS });
  }

  async cancel(principal: Principal, taskId: string, reason: string): Promise<CancelReply> {
    if (principal.readOnly) throw new McpqError(ErrorCode.forbidden, 'this token is read-only: it cannot cancel tasks');
    if (!(await this.get(principal, taskId))) throw notFound(taskId);
    return this.client.cancel(taskId, { reason });
  }

  /**
   * The principal's tasks known to KV, a page at a time, in the order of
   * their last update (oldest first; see @mcpq/client's record-scan.ts). One request reads
   * at most `scanLimit` records, whoever they belong to: a page may hold
   * fewer than `pageSize` tasks, even none, and still carry a nextCursor —
   * only a page without one is the last. The cursor names the records'
   * stream sequence to go on from.
   */
  async list(principal: Principal, cursor?: string): Promise<{ tasks: CallTask[]; nextCursor?: string }> {
    const until = Date.now() + LIST_TIMEOUT_MS;
    const scan = () =>
      scanRecords(this.records, {
        order: 'oldest',
        cursor,
        scanLimit: this.listLimits.scanLimit,
        pageSize: this.listLimits.pageSize,
        match: (r) => mayAccessCall(principal, r.callId),
        timeoutMs: Math.max(1_000, until - Date.now()),
      });
    // A pass only reads: asking again after NATS failed is safe (a cursor it refused is refused at once).
    const page = await readWhileNatsFails(scan, { until, what: 'cannot read the call records' });
    const tasks = page.records.map((r) => fromCallInfo(toCallInfo(r.record)));
    return page.nextCursor === undefined ? { tasks } : { tasks, nextCursor: page.nextCursor };
  }

  private visible(principal: Principal, taskId: string): boolean {
    return CALL_ID_PATTERN.test(taskId) && mayAccessCall(principal, taskId);
  }

  /** When the gateway accepted the call (its marker event), or undefined when no status event exists for the id. */
  private async marker(callId: string, until: number): Promise<string | undefined> {
    const stream = this.names.streams.events;
    const which = { last_by_subj: this.names.call(callId, 'status') };
    // A direct get is answered by any replica, and one may not have the marker yet (an id handed out a
    // moment ago): "not found" is said only once the stream's leader, which has every stored marker, agrees.
    const read = async () => (await this.jsm.direct.getMessage(stream, which)) ?? (await this.jsm.streams.getMessage(stream, which));
    const m = await readWhileNatsFails(read, { until, what: `cannot read ${stream}` });
    if (!m) return undefined;
    const parsed = StatusEventSchema.safeParse(m.json());
    return parsed.success ? parsed.data.at : new Date(m.timestamp).toISOString();
  }
}

export function notFound(taskId: string): McpqError {
  return new McpqError(ErrorCode.not_found, `no task ${taskId}`);
}

export function taskState(status: CallStatus): TaskState {
  switch (status) {
    case 'completed':
      return 'completed';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
    case 'timeout':
      return 'failed';
    default:
      return 'working';
  }
}

function fromCallInfo(info: CallInfo): CallTask {
  const task: CallTask = {
    taskId: info.callId,
    status: taskState(info.status),
    createdAt: info.createdAt,
    lastUpdatedAt: info.updatedAt,
  };
  const message = info.error ? `${info.error.code}: ${info.error.message}` : task.status === 'working' ? info.status : undefined;
  if (message) task.statusMessage = message;
  return task;
}
