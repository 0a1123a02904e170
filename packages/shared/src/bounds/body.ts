/**
 * Reading an HTTP body with a cap. `res.json()` and `res.text()` read
 * whatever a server sends; a server (or anything between) that sends
 * gigabytes would fill the heap. These readers stop at the cap and cancel
 * the rest of the body.
 */
import { ErrorCode, McpqError } from '@mcpq/contract';

/** How much of an error answer's body is read (it only goes into an error message). */
export const ERROR_BODY_BYTES = 4 * 1024;

/** The whole body as text; fails with `response_too_large` past `maxBytes`. */
export async function readBodyCapped(res: Response, maxBytes: number, what: string): Promise<string> {
  const { text, complete, bytes } = await readUpTo(res, maxBytes);
  if (!complete) {
    throw new McpqError(ErrorCode.response_too_large, `${what}: the answer is larger than ${maxBytes} bytes (limits.maxResponseBytes)`, {
      data: { limit: maxBytes, bytesRead: bytes },
    });
  }
  return text;
}

/** At most `maxBytes` of the body as text (for error messages); the rest is cancelled. Never throws. */
export async function readBodyPrefix(res: Response, maxBytes: number = ERROR_BODY_BYTES): Promise<string> {
  try {
    const { text, complete } = await readUpTo(res, maxBytes);
    return complete ? text : `${text}...`;
  } catch {
    return '';
  }
}

async function readUpTo(res: Response, maxBytes: number): Promise<{ text: string; complete: boolean; bytes: number }> {
  if (!res.body) return { text: '', complete: true, bytes: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        chunks.push(value.subarray(0, value.byteLength - (bytes - maxBytes)));
        return { text: decode(chunks), complete: false, bytes };
      }
      chunks.push(value);
    }
    return { text: decode(chunks), complete: true, bytes };
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function decode(chunks: Uint8Array[]): string {
  return Buffer.concat(chunks).toString('utf8');
}
