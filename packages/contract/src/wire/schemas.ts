/**
 * The wire contract (v1) as zod schemas. Every message that crosses a process
 * boundary is defined here once; the TypeScript types are inferred from the
 * schemas so validation and types never drift. docs/protocol.md documents
 * the same messages for callers in any language.
 */
import { z } from 'zod';
import { TOKEN_PATTERN } from './names.js';

export const CALL_ID_PATTERN = TOKEN_PATTERN;

export const CallIdSchema = z.string().regex(CALL_ID_PATTERN, 'callId must be 1-64 characters from [A-Za-z0-9_-]');

export const ServerAliasSchema = z.string().regex(TOKEN_PATTERN, 'server alias must be 1-64 characters from [A-Za-z0-9_-]');

/** How a call is rejoined after the submitter detaches (DESIGN "Rejoin modes"). */
export const ModeSchema = z.enum(['task', 'resume', 'hold']);
export type Mode = z.infer<typeof ModeSchema>;

/**
 * The MCP protocol revision (era) a call is made in: `2025-11-25` (sessions,
 * resumable streams, tasks in the core) or `2026-07-28` (stateless, the tasks
 * extension). Independent of the mode, which stays task / resume / hold.
 * (The type is `ProtocolEra`, in mcp/protocol-2026.ts.)
 */
export const ProtocolEraSchema = z.enum(['2025-11-25', '2026-07-28']);

/** Status values published on `<prefix>.call.<id>.status`. */
export const CallStatusSchema = z.enum(['queued', 'dispatched', 'running', 'completed', 'failed', 'cancelled', 'timeout']);
export type CallStatus = z.infer<typeof CallStatusSchema>;

export const TerminalStatusSchema = z.enum(['completed', 'failed', 'cancelled', 'timeout']);
export type TerminalStatus = z.infer<typeof TerminalStatusSchema>;

/** The fields of a CallRequest that this version of mcpq knows. */
const callRequestFields = {
  callId: CallIdSchema,
  tool: z.string().min(1, 'tool must not be empty').max(256, 'tool name is longer than 256 characters'),
  arguments: z.record(z.string(), z.unknown()).optional(),
  /** Bounds the whole call, queue time included. */
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600 * 1000)
    .optional(),
  /** The caller declares that running the tool twice is harmless. */
  idempotent: z.boolean().optional(),
  /** Caller data passed to the MCP server in the request's `_meta` (keys must not start with `io.mcpq/`). */
  meta: z.record(z.string(), z.unknown()).optional(),
  /**
   * Fields of this request that a reader which does not know them may ignore
   * (a newer caller's optional additions). Any other unknown field is refused.
   */
  mayIgnore: z.array(z.string().max(64)).max(32).optional(),
};

/**
 * `<prefix>.submit.<server>`: a tools/call job. The one message whose unknown
 * fields are refused (the compatibility rule, docs/protocol.md): ignoring a
 * field of a command could run a call other than the one asked for (a typo
 * such as `args`, a newer option an older submitter cannot honour). A caller
 * lists in `mayIgnore` the fields the call may run without; those are then
 * ignored by readers that do not know them. Parsed, only known fields remain.
 */
export const CallRequestSchema = z
  .looseObject(callRequestFields)
  .superRefine((request, ctx) => {
    const mayIgnore = new Set(request.mayIgnore ?? []);
    const refused = Object.keys(request).filter((k) => !Object.hasOwn(callRequestFields, k) && !mayIgnore.has(k));
    if (refused.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown field${refused.length > 1 ? 's' : ''} ${refused.map((k) => `"${k}"`).join(', ')} (a misspelling? list a newer optional field in mayIgnore to let a call run without it)`,
      });
    }
  })
  .transform((request) => {
    const known: Record<string, unknown> = {};
    for (const k of Object.keys(callRequestFields)) if (request[k] !== undefined) known[k] = request[k];
    return known as z.output<z.ZodObject<typeof callRequestFields>>;
  });
export type CallRequest = z.infer<typeof CallRequestSchema>;

export const WireErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  data: z.unknown().optional(),
});
export type WireError = z.infer<typeof WireErrorSchema>;

/** `<prefix>.call.<id>.status` */
export const StatusEventSchema = z.object({
  callId: CallIdSchema,
  status: CallStatusSchema,
  mode: ModeSchema.optional(),
  at: z.string(),
  detail: z.string().optional(),
  attempt: z.number().int().nonnegative().optional(),
  /** The MCP protocol revision the call is made in, once known. */
  protocol: ProtocolEraSchema.optional(),
  /**
   * The MCP server asks for input (MCP 2026-07-28 `inputRequests`, keyed by
   * the server's ids), on a status whose detail starts with `input_required`.
   * Left out when larger than 16 KB.
   */
  inputRequests: z.record(z.string(), z.unknown()).optional(),
});
export type StatusEvent = z.infer<typeof StatusEventSchema>;

/** `<prefix>.call.<id>.progress` */
export const ProgressEventSchema = z.object({
  callId: CallIdSchema,
  seq: z.number().int().positive(),
  progress: z.number(),
  total: z.number().optional(),
  message: z.string().optional(),
  at: z.string(),
});
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;

/** `<prefix>.call.<id>.result`: exactly one per call. */
export const ResultEventSchema = z.object({
  callId: CallIdSchema,
  status: TerminalStatusSchema,
  /** The MCP CallToolResult as the server sent it (a tool error has isError: true). */
  result: z.record(z.string(), z.unknown()).optional(),
  /** Why the system could not get a result. */
  error: WireErrorSchema.optional(),
  mode: ModeSchema.optional(),
  attempts: z.number().int().nonnegative(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type ResultEvent = z.infer<typeof ResultEventSchema>;

/** `<prefix>.call.<id>.cancel` request body (an empty body is fine too). */
export const CancelRequestSchema = z.object({ reason: z.string().max(1024).optional() });
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/** Reply to a cancel request. */
export const CancelReplySchema = z.object({
  callId: z.string(),
  /** True when this request recorded the cancellation. */
  accepted: z.boolean(),
  /** The call's status after the request. */
  status: z.string(),
  detail: z.string().optional(),
});
export type CancelReply = z.infer<typeof CancelReplySchema>;

/** `<prefix>.join.<server>`: the hand-off from submitter to joiners. */
export const JoinMessageSchema = z.object({
  callId: CallIdSchema,
  server: ServerAliasSchema,
  mode: ModeSchema,
  /**
   * The request itself, for modes where the joiner (re)issues the call. The
   * submitter has already checked it; fields this joiner does not know (from a
   * newer submitter) are ignored, as in every message but the CallRequest.
   */
  request: z.object(callRequestFields).optional(),
});
export type JoinMessage = z.infer<typeof JoinMessageSchema>;

/** `<prefix>.dlq.<reason>`: a message mcpq could not process, with the original payload. */
export const DeadLetterSchema = z.object({
  reason: z.string(),
  code: z.string(),
  message: z.string(),
  /** The subject the original message was published to. */
  subject: z.string(),
  callId: z.string().optional(),
  /** The original payload, when it is valid UTF-8. */
  payload: z.string().optional(),
  /** The original payload in base64, when it is not valid UTF-8. */
  payloadBase64: z.string().optional(),
  /** The payload above is only the start of the original (the letter had to fit one NATS message); it cannot be replayed. */
  payloadTruncated: z.boolean().optional(),
  /** Size of the original payload in bytes, when `payloadTruncated`. */
  payloadBytes: z.number().int().nonnegative().optional(),
  headers: z.record(z.string(), z.array(z.string())).optional(),
  deliveries: z.number().int().nonnegative(),
  /** Stream and sequence of the original message, when it came from a stream. */
  stream: z.string().optional(),
  seq: z.number().int().nonnegative().optional(),
  at: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
