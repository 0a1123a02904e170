/**
 * Measuring JSON as it will be stored or sent. `JSON.stringify` recurses: a
 * value nested ~10,000 levels deep overflows the stack (a RangeError that
 * escapes every handler), so the depth is checked first with a loop that
 * uses no recursion, and only then is the value serialized and measured.
 * Sizes are bytes of UTF-8 after escaping, which is what a NATS message or a
 * KV entry holds (a control character in a string costs six bytes, not one).
 */

/** Deepest nesting mcpq stores or sends when no other limit is given (`limits.maxJsonDepth`). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON value (a scalar is 0, `{}` and `[]` are 1),
 * counted without recursion; stops counting as soon as it passes `limit`.
 */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: here });
  }
  return deepest;
}

export type JsonMeasure =
  | { ok: true; json: string; bytes: number }
  | { ok: false; reason: 'too_deep'; depth: number }
  | { ok: false; reason: 'not_serializable'; message: string };

/**
 * Serializes `value` as it would go on the wire, after checking its depth:
 * the JSON text and its size in bytes, or why it cannot be serialized safely.
 */
export function measureJson(value: unknown, maxDepth: number = DEFAULT_MAX_JSON_DEPTH): JsonMeasure {
  const depth = jsonDepth(value, maxDepth);
  if (depth > maxDepth) return { ok: false, reason: 'too_deep', depth };
  try {
    const json = JSON.stringify(value) ?? 'null';
    return { ok: true, json, bytes: Buffer.byteLength(json) };
  } catch (err) {
    // A BigInt, or a cycle (neither can come from JSON.parse; both from a bug).
    return { ok: false, reason: 'not_serializable', message: err instanceof Error ? err.message : String(err) };
  }
}

/** Bytes of JSON of `text` as a JSON string value, quotes included (escaping counted). */
export function jsonStringBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}

/**
 * The longest prefix of `text` whose JSON string form (escaped) fits in
 * `maxBytes`: a text of control characters grows six-fold when escaped.
 */
export function truncateForJson(text: string, maxBytes: number): string {
  if (jsonStringBytes(text) <= maxBytes) return text;
  // Binary search on the character count: escaping is not uniform.
  let lo = 0;
  let hi = Math.min(text.length, maxBytes);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonStringBytes(safeSlice(text, mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return safeSlice(text, lo);
}

/** `text.slice(0, n)` without leaving half a surrogate pair at the end. */
function safeSlice(text: string, n: number): string {
  const code = text.charCodeAt(n - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, n - 1) : text.slice(0, n);
}

/** Longest piece of a server's text (an error message) quoted inside one of mcpq's messages. */
export const MAX_QUOTED_CHARS = 1024;

/** `text` cut to `max` characters, saying so: for quoting a server's text in an error message or log line. */
export function clipText(text: string, max: number = MAX_QUOTED_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}
