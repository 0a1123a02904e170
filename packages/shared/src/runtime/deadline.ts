/**
 * Waiting on something shared (a server's session being opened) without
 * waiting past one call's deadline: the shared work goes on for the others,
 * this call stops waiting and is judged on its next delivery.
 */
import { ErrorCode, McpqError } from '@mcpq/contract';

/** `work`, or a retryable `server_unreachable` once `deadline` (epoch ms) passes; no deadline: `work` as it is. */
export async function untilDeadline<T>(work: Promise<T>, deadline: number | undefined, what: string): Promise<T> {
  if (deadline === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new McpqError(ErrorCode.server_unreachable, `${what}: no answer before the call's deadline`, { retryable: true })),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
