/** Small helpers to read command-line values: durations, --arg k=v pairs. */

/** "500ms", "30s", "2m", "1h" or a plain number of milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`"${text}" is not a duration (use e.g. 500ms, 30s, 2m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1_000 : 1;
  return Math.round(n * factor);
}

/** Builds the arguments object from --args JSON and repeated --arg key=value (value parsed as JSON when it is JSON). */
export function buildArguments(json: string | undefined, pairs: string[] | undefined): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw new UsageError(`--args is not JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--args must be a JSON object');
    args = parsed as Record<string, unknown>;
  }
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--arg ${pair}: use key=value`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the string
    }
    args[pair.slice(0, at)] = value;
  }
  return args;
}

/** A mistake in how the command was called: printed with the usage, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}
