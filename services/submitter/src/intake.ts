/**
 * Turns a raw message from `<prefix>.submit.<server>` into a CallRequest, or
 * into a rejection with a stable code and a message that says what is wrong.
 * Pure: no I/O, so every kind of bad input is easy to test.
 */
import { CALL_ID_PATTERN, CallRequestSchema, ErrorCode, type CallRequest, type Config, type Names } from '@mcpq/shared';

export type Intake =
  | { ok: true; server: string; request: CallRequest }
  | {
      ok: false;
      code: ErrorCode;
      message: string;
      /** Present when the payload named a usable callId: the rejection then becomes the call's result. */
      callId?: string;
      server?: string;
      tool?: string;
    };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @param msgId the `Nats-Msg-Id` header. The contract requires it to equal the
 *   callId: it is what lets JetStream drop a repeated submission.
 */
export function parseSubmission(subject: string, data: Uint8Array, n: Names, config: Config, msgId: string | undefined): Intake {
  const server = n.serverFromSubmitSubject(subject);
  if (server === undefined) {
    return { ok: false, code: ErrorCode.invalid_request, message: `subject ${subject} is not ${n.prefix}.submit.<server>` };
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, code: ErrorCode.invalid_request, message: 'payload is not UTF-8 text (a CallRequest is JSON)', server };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: ErrorCode.invalid_request, message: `payload is not JSON: ${(err as Error).message}`, server };
  }
  const parsed = CallRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.message}`)
      .join('; ');
    return { ok: false, code: ErrorCode.invalid_request, message: `invalid CallRequest: ${issues}`, server, ...salvage(json) };
  }
  const request = parsed.data;
  const rejection = { callId: request.callId, server, tool: request.tool };
  if (msgId === undefined || msgId === '') {
    return {
      ok: false,
      code: ErrorCode.invalid_request,
      message: `the Nats-Msg-Id header is missing: publish with Nats-Msg-Id: ${request.callId} so that a repeated submission is recognised`,
      ...rejection,
    };
  }
  if (msgId !== request.callId) {
    return {
      ok: false,
      code: ErrorCode.invalid_request,
      message: `the Nats-Msg-Id header (${msgId}) must equal the callId (${request.callId})`,
      ...rejection,
    };
  }
  if (request.meta && Object.keys(request.meta).some((k) => k.startsWith('io.mcpq/'))) {
    return { ok: false, code: ErrorCode.invalid_request, message: 'meta keys starting with io.mcpq/ are reserved', ...rejection };
  }
  if (request.arguments !== undefined) {
    const size = Buffer.byteLength(JSON.stringify(request.arguments));
    if (size > config.limits.maxArgumentsBytes) {
      return {
        ok: false,
        code: ErrorCode.arguments_too_large,
        message: `arguments are ${size} bytes; the limit is ${config.limits.maxArgumentsBytes} (limits.maxArgumentsBytes)`,
        ...rejection,
      };
    }
  }
  if (!Object.hasOwn(config.servers, server)) {
    const known = Object.keys(config.servers);
    return {
      ok: false,
      code: ErrorCode.unknown_server,
      message: `server "${server}" is not configured${known.length ? ` (configured: ${known.join(', ')})` : ''}`,
      ...rejection,
    };
  }
  return { ok: true, server, request };
}

/** From an invalid payload, the callId and tool if they are usable, so the caller still gets a result. */
function salvage(json: unknown): { callId?: string; tool?: string } {
  if (typeof json !== 'object' || json === null) return {};
  const { callId, tool } = json as { callId?: unknown; tool?: unknown };
  const out: { callId?: string; tool?: string } = {};
  if (typeof callId === 'string' && CALL_ID_PATTERN.test(callId)) out.callId = callId;
  if (typeof tool === 'string' && tool.length <= 256) out.tool = tool;
  return out;
}
