/**
 * Subject, stream, consumer and bucket names of the wire contract, all derived
 * from one prefix so that two mcpq deployments can share a NATS account.
 * With the default prefix `mcpq`: subjects `mcpq.submit.<server>`, streams
 * `MCPQ_SUBMIT`, bucket `mcpq_calls`.
 */

/** One subject token: safe in subjects, stream names and bucket names. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The kinds of per-call event subjects that are stored in the events stream. */
export const CALL_EVENT_KINDS = ['status', 'progress', 'result'] as const;
export type CallEventKind = (typeof CALL_EVENT_KINDS)[number];

export interface Names {
  readonly prefix: string;
  /** `<prefix>.submit.<server>`: where callers publish CallRequests. */
  submit(server: string): string;
  /** `<prefix>.join.<server>`: the submitter's hand-off to joiners. */
  join(server: string): string;
  /** `<prefix>.call.<callId>.<kind>`: status, progress and result events. */
  call(callId: string, kind: CallEventKind): string;
  /** `<prefix>.call.<callId>.*`: filter for all stored events of one call. */
  callEvents(callId: string): string;
  /**
   * `<prefix>.cancel.<callId>`: request/reply. Deliberately outside
   * `<prefix>.call.>`: the events stream stores all of that (NATS 2.9 needs a
   * consumer filter to be a subset of one stream subject to replay one call),
   * and a request into a stream's subjects gets JetStream's PubAck as its reply.
   */
  cancel(callId: string): string;
  /** `<prefix>.dlq.<reason>`: dead letters. */
  dlq(reason: string): string;
  /** `<prefix>.ctl.cancel.<callId>`: broadcast to joiners that a call was cancelled. */
  controlCancel(callId: string): string;
  /** `<prefix>.ctl.joiners`: core-NATS request every joiner answers with its JoinerReport (the console gathers them). */
  readonly controlJoiners: string;
  /**
   * `<prefix>.ctl.taskstatus.<server>`: core NATS, not stored. The joiner holding a session's task
   * status stream passes what it hears on to every other joiner (TaskStatusCue).
   */
  controlTaskStatus(server: string): string;
  /** `<prefix>.ctl.taskstatus.*`: every joiner subscribes. */
  readonly controlTaskStatusWildcard: string;
  /** Parses `<prefix>.ctl.taskstatus.<server>`; undefined when the subject is not one. */
  serverFromTaskStatusSubject(subject: string): string | undefined;
  readonly submitWildcard: string;
  readonly joinWildcard: string;
  readonly dlqWildcard: string;
  readonly cancelWildcard: string;
  readonly controlCancelWildcard: string;
  /** Subjects of the events stream: everything under `<prefix>.call.`. */
  readonly eventSubjects: string[];
  readonly streams: { submit: string; join: string; events: string; dlq: string; advisories: string };
  readonly consumers: { submitter: string; joiner: string; advisories: string };
  /** JetStream advisories about submit requests that were delivered too often or terminated (stored, so none is missed). */
  readonly advisorySubjects: string[];
  readonly bucket: string;
  /** `$KV.<bucket>.<callId>`: the subject every write of a call's record is published on (how NATS KV stores it). */
  record(callId: string): string;
  /** KV bucket of the server catalog (tool lists, protocol era), key = server alias. */
  readonly serversBucket: string;
  /** Parses `<prefix>.submit.<server>`; undefined when the subject is not one. */
  serverFromSubmitSubject(subject: string): string | undefined;
  /** Parses `<prefix>.call.<callId>.<kind>`. */
  parseCallSubject(subject: string): { callId: string; kind: string } | undefined;
}

export function names(prefix = 'mcpq'): Names {
  if (!TOKEN_PATTERN.test(prefix)) {
    throw new Error(`invalid prefix "${prefix}": use 1-64 characters from [A-Za-z0-9_-]`);
  }
  const upper = prefix.toUpperCase().replace(/-/g, '_');
  const tokenAfter = (subject: string, head: string): string | undefined => {
    if (!subject.startsWith(head)) return undefined;
    const rest = subject.slice(head.length);
    return rest.length > 0 && !rest.includes('.') ? rest : undefined;
  };
  const bucket = `${prefix}_calls`;
  return {
    prefix,
    submit: (server) => `${prefix}.submit.${server}`,
    join: (server) => `${prefix}.join.${server}`,
    call: (callId, kind) => `${prefix}.call.${callId}.${kind}`,
    callEvents: (callId) => `${prefix}.call.${callId}.*`,
    cancel: (callId) => `${prefix}.cancel.${callId}`,
    dlq: (reason) => `${prefix}.dlq.${reason}`,
    controlCancel: (callId) => `${prefix}.ctl.cancel.${callId}`,
    controlJoiners: `${prefix}.ctl.joiners`,
    controlTaskStatus: (server) => `${prefix}.ctl.taskstatus.${server}`,
    controlTaskStatusWildcard: `${prefix}.ctl.taskstatus.*`,
    serverFromTaskStatusSubject: (subject) => tokenAfter(subject, `${prefix}.ctl.taskstatus.`),
    submitWildcard: `${prefix}.submit.>`,
    joinWildcard: `${prefix}.join.>`,
    dlqWildcard: `${prefix}.dlq.>`,
    cancelWildcard: `${prefix}.cancel.*`,
    controlCancelWildcard: `${prefix}.ctl.cancel.*`,
    eventSubjects: [`${prefix}.call.>`],
    streams: {
      submit: `${upper}_SUBMIT`,
      join: `${upper}_JOIN`,
      events: `${upper}_EVENTS`,
      dlq: `${upper}_DLQ`,
      advisories: `${upper}_ADVISORIES`,
    },
    consumers: { submitter: 'submitter', joiner: 'joiner', advisories: 'advisories' },
    advisorySubjects: ['MAX_DELIVERIES', 'MSG_TERMINATED'].map((kind) => `$JS.EVENT.ADVISORY.CONSUMER.${kind}.${upper}_SUBMIT.submitter`),
    bucket,
    record: (callId) => `$KV.${bucket}.${callId}`,
    serversBucket: `${prefix}_servers`,
    serverFromSubmitSubject: (subject) => tokenAfter(subject, `${prefix}.submit.`),
    parseCallSubject: (subject) => {
      const head = `${prefix}.call.`;
      if (!subject.startsWith(head)) return undefined;
      const [callId, kind, ...extra] = subject.slice(head.length).split('.');
      if (!callId || !kind || extra.length > 0) return undefined;
      return { callId, kind };
    },
  };
}

/** Every stream mcpq uses, the calls bucket's included (health checks, `mcpq provision`). Their settings: `desiredStreams`. */
export function streamNames(n: Names): string[] {
  return [n.streams.submit, n.streams.join, n.streams.events, n.streams.dlq, n.streams.advisories, `KV_${n.bucket}`];
}

/** The server alias of a work-queue subject (`<prefix>.submit.<server>`, `<prefix>.join.<server>`): its last token. */
export function serverOfSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}

/** The dedupe id (Nats-Msg-Id) of a call's result: JetStream keeps one result per call. */
export function resultDedupeId(callId: string): string {
  return `${callId}.result`;
}
