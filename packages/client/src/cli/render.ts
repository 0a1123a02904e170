/**
 * How call events are shown: JSON lines when stdout is not a terminal (for
 * scripts), a one-line progress bar and a readable result on a terminal.
 */
import type { ResultEvent } from '@mcpq/contract';
import type { CallEvent } from '../client.js';

/** Output is JSON lines when asked (--json) or when stdout is not a terminal (a pipe, a file). */
export function wantsJson(flag: boolean): boolean {
  return flag || !process.stdout.isTTY;
}

/** The renderer of call events for this output (see wantsJson). */
export function renderer(json: boolean): Renderer {
  return wantsJson(json) ? jsonLines() : terminal();
}

export interface Renderer {
  event(e: CallEvent): void;
  done(): void;
}

export function jsonLines(out: NodeJS.WritableStream = process.stdout): Renderer {
  return {
    event: (e) => out.write(`${JSON.stringify(e)}\n`),
    done: () => undefined,
  };
}

export function terminal(out: NodeJS.WriteStream = process.stdout): Renderer {
  let barShown = false;
  const clearBar = () => {
    if (barShown) out.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    event(e) {
      if (e.type === 'progress') {
        const width = 30;
        const frac = e.total ? Math.min(1, e.progress / e.total) : undefined;
        const bar = frac === undefined ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] `;
        const count = e.total ? `${e.progress}/${e.total}` : `${e.progress}`;
        out.write(`\r\x1b[2K${bar}${count}${e.message ? `  ${e.message}` : ''}`);
        barShown = true;
      } else if (e.type === 'status') {
        clearBar();
        out.write(`${e.status}${e.mode ? ` (${e.mode})` : ''}${e.detail ? `: ${e.detail}` : ''}\n`);
      } else {
        clearBar();
        out.write(formatResult(e));
      }
    },
    done: clearBar,
  };
}

export function formatResult(r: ResultEvent): string {
  const lines = [`result: ${r.status}${r.error ? ` [${r.error.code}] ${r.error.message}` : ''}`];
  const content = r.result?.content;
  if (Array.isArray(content)) {
    for (const c of content as Array<{ type?: string; text?: string }>) {
      lines.push(c.type === 'text' && typeof c.text === 'string' ? c.text : JSON.stringify(c));
    }
  }
  if (r.result?.isError === true) lines.push('(the tool reported an error: isError)');
  return `${lines.join('\n')}\n`;
}

/** A plain text table with padded columns. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
