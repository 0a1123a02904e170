/**
 * The wire contract as JSON Schema (2020-12), generated from the zod schemas
 * so that callers in other languages validate against exactly what mcpq
 * accepts. `pnpm schemas` writes them to `schemas/v1/`; a test fails when the
 * checked-in files drift from the schemas here.
 */
import { z } from 'zod';
import { CallRecordSchema } from '../record.js';
import { JoinerReportSchema } from './joiner-report.js';
import { TaskStatusCueSchema } from './task-status-cue.js';
import {
  CallRequestSchema,
  CancelReplySchema,
  CancelRequestSchema,
  DeadLetterSchema,
  JoinMessageSchema,
  ProgressEventSchema,
  ResultEventSchema,
  StatusEventSchema,
} from './schemas.js';

const BASE_ID = 'urn:mcpq:schemas:v1:';

const READERS_IGNORE =
  'Readers ignore fields they do not know (docs/protocol.md, compatibility): later v1 versions may add optional fields.';

export interface WireMessage {
  /** File name in schemas/v1 (without .json). */
  name: string;
  schema: z.ZodType;
  title: string;
  /** Where it travels. */
  description: string;
}

/** The one list of the wire contract's messages: one JSON Schema each, and what the contract tests go through. */
export const WIRE_MESSAGES: readonly WireMessage[] = [
  {
    name: 'call-request',
    schema: CallRequestSchema,
    title: 'CallRequest',
    description:
      'Published by a caller on <prefix>.submit.<server> with the header Nats-Msg-Id: <callId>. Unknown fields are refused unless listed in mayIgnore (docs/protocol.md, compatibility).',
  },
  {
    name: 'status-event',
    schema: StatusEventSchema,
    title: 'StatusEvent',
    description: `Published by mcpq on <prefix>.call.<callId>.status. ${READERS_IGNORE}`,
  },
  {
    name: 'progress-event',
    schema: ProgressEventSchema,
    title: 'ProgressEvent',
    description: `Published by mcpq on <prefix>.call.<callId>.progress. ${READERS_IGNORE}`,
  },
  {
    name: 'result-event',
    schema: ResultEventSchema,
    title: 'ResultEvent',
    description: `Published by mcpq on <prefix>.call.<callId>.result, exactly one per call. ${READERS_IGNORE}`,
  },
  {
    name: 'cancel-request',
    schema: CancelRequestSchema,
    title: 'CancelRequest',
    description: `Request body on <prefix>.cancel.<callId> (request/reply). ${READERS_IGNORE}`,
  },
  { name: 'cancel-reply', schema: CancelReplySchema, title: 'CancelReply', description: `Reply to a CancelRequest. ${READERS_IGNORE}` },
  {
    name: 'dead-letter',
    schema: DeadLetterSchema,
    title: 'DeadLetter',
    description: `Published by mcpq on <prefix>.dlq.<reason>. ${READERS_IGNORE}`,
  },
  {
    name: 'call-record',
    schema: CallRecordSchema,
    title: 'CallRecord',
    description: `Value of key <callId> in the KV bucket <prefix>_calls; written only by mcpq. ${READERS_IGNORE}`,
  },
  {
    name: 'join-message',
    schema: JoinMessageSchema,
    title: 'JoinMessage',
    description: `Internal: the submitter's hand-off to joiners on <prefix>.join.<server>. ${READERS_IGNORE}`,
  },
  {
    name: 'joiner-report',
    schema: JoinerReportSchema,
    title: 'JoinerReport',
    description: `Internal: each joiner's reply to a request on <prefix>.ctl.joiners (the console asks what joiners hold). ${READERS_IGNORE}`,
  },
  {
    name: 'task-status-cue',
    schema: TaskStatusCueSchema,
    title: 'TaskStatusCue',
    description: `Internal, core NATS: a task status notification the joiner holding the session's stream passes on to the other joiners, on <prefix>.ctl.taskstatus.<server> (a hint: it only wakes a parked call). At most 16 KiB. ${READERS_IGNORE}`,
  },
];

/** File name (e.g. `call-request.json`) -> JSON Schema document. */
export function wireJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const m of WIRE_MESSAGES) {
    // `input`: what a reader accepts. Objects then allow additional properties, which is the rule.
    const generated = z.toJSONSchema(m.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const { $schema, ...rest } = generated;
    out[`${m.name}.json`] = { $schema, $id: `${BASE_ID}${m.name}.json`, title: m.title, description: m.description, ...rest };
  }
  return out;
}
