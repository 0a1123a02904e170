/**
 * docs/errors.md as a page of the console, so a call's error code links to
 * its explanation without any network: headings and the code tables, each
 * code's row anchored at `#<code>`. Cells are escaped; `code` spans kept.
 */
import { escapeHtml } from './http.js';

export function errorsPage(markdown: string | undefined): string {
  const body: string[] = [];
  if (markdown === undefined) body.push('<p>docs/errors.md is not installed next to this console.</p>');
  let inTable = false;
  for (const line of (markdown ?? '').split('\n')) {
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    const row = /^\|(.*)\|\s*$/.exec(line);
    if (!row && inTable) {
      body.push('</table>');
      inTable = false;
    }
    if (heading) body.push(`<h${heading[1]!.length}>${inline(heading[2]!)}</h${heading[1]!.length}>`);
    else if (row) {
      const cells = row[1]!.split(/(?<!\\)\|/).map((c) => c.trim());
      if (cells.every((c) => /^-*$/.test(c))) continue;
      if (!inTable) {
        body.push('<table>');
        inTable = true;
        body.push(`<tr>${cells.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>`);
        continue;
      }
      const code = /^`([a-z_]+)`$/.exec(cells[0] ?? '')?.[1];
      body.push(`<tr${code ? ` id="${code}"` : ''}>${cells.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`);
    } else if (line.trim()) body.push(`<p>${inline(line)}</p>`);
  }
  if (inTable) body.push('</table>');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mcpq error codes</title><link rel="stylesheet" href="/app.css"></head><body class="doc"><p><a href="/">← console</a></p>${body.join('\n')}</body></html>`;
}

function inline(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}
