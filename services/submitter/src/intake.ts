/**
 * Turns a raw message from `<prefix>.submit.<server>` into a CallRequest, or
 * into a rejection with a stable code and a message that says what is wrong.
 * Pure: no I/O, so every kind of bad input is easy to test.
 */
import { CALL_ID_PATTERN, CallRequestSchema, ErrorCode, measureJson, type CallRequest, type Config, type Names } from '@mcpq/shared';

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

/** A header value as it may appear in a message: long ones are cut (they come from the caller). */
const shown = (v: string) => (v.length > 80 ? `${v.slice(0, 80)}... (${v.length} characters)` : v);

/**
 * @param msgIds the `Nats-Msg-Id` header (every value it has). The contract
 *   requires exactly one, equal to the callId: it is what lets JetStream drop
 *   a repeated submission.
 */
export function parseSubmission(
  subject: string,
  data: Uint8Array,
  n: Names,
  config: Config,
  msgIds: string[] | string | undefined,
): Intake {
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
  const ids = (Array.isArray(msgIds) ? msgIds : msgIds === undefined ? [] : [msgIds]).filter((v) => v !== '');
  if (ids.length > 1) {
    return {
      ok: false,
      code: ErrorCode.invalid_request,
      message: `the submission carries more than one Nats-Msg-Id header (${ids.length}); publish exactly one, equal to the callId`,
      ...rejection,
    };
  }
  const msgId = ids[0];
  if (msgId === undefined) {
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
      message: `the Nats-Msg-Id header (${shown(msgId)}) must equal the callId (${request.callId})`,
      ...rejection,
    };
  }
  if (request.meta && Object.keys(request.meta).some((k) => k.startsWith('io.mcpq/'))) {
    return { ok: false, code: ErrorCode.invalid_request, message: 'meta keys starting with io.mcpq/ are reserved', ...rejection };
  }
  const sized = checkSize(request, config.limits);
  if (sized) return { ok: false, ...sized, ...rejection };
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

/**
 * Depth first (serializing something nested 100,000 levels deep overflows
 * the stack), then the size of `arguments` and `meta` together as they will
 * be sent: bytes of JSON after escaping.
 */
function checkSize(request: CallRequest, limits: Config['limits']): { code: ErrorCode; message: string } | undefined {
  let bytes = 0;
  const parts: string[] = [];
  for (const [name, value] of [
    ['arguments', request.arguments],
    ['meta', request.meta],
  ] as const) {
    if (value === undefined) continue;
    const m = measureJson(value, limits.maxArgumentsDepth);
    if (!m.ok) {
      return m.reason === 'too_deep'
        ? {
            code: ErrorCode.arguments_too_deep,
            message: `${name} are nested more than ${limits.maxArgumentsDepth} levels deep (at least ${m.depth}); the limit is limits.maxArgumentsDepth`,
          }
        : { code: ErrorCode.invalid_request, message: `${name} cannot be serialized: ${m.message}` };
    }
    bytes += m.bytes;
    parts.push(name);
  }
  if (bytes <= limits.maxArgumentsBytes) return undefined;
  return {
    code: ErrorCode.arguments_too_large,
    message: `${parts.join(' and ')} are ${bytes} bytes as JSON; the limit is ${limits.maxArgumentsBytes} (limits.maxArgumentsBytes)`,
  };
}
