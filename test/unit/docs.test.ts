/**
 * The docs must keep up with the code: every config field, error code and
 * command is documented.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigSchema, ErrorCode, ServerConfigSchema } from '@mcpq/shared';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = (name: string) => readFileSync(`${root}docs/${name}`, 'utf8');

/** Dotted paths of every leaf field of an object schema. */
function fields(schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodPipe) {
    s = s instanceof z.ZodPipe ? (s.in as z.ZodType) : (s.unwrap() as z.ZodType);
  }
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => fields(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

describe('documentation', () => {
  it('operations.md documents every config field', () => {
    const ops = doc('operations.md');
    const top = fields(ConfigSchema).filter((f) => f !== 'servers');
    expect(top.length).toBeGreaterThan(30);
    const missing = top.filter((f) => !ops.includes(`\`${f}\``));
    const perServer = fields(ServerConfigSchema).filter((f) => !ops.includes(`| \`${f}\``));
    expect({ missing, perServer }).toEqual({ missing: [], perServer: [] });
  });

  it('errors.md documents every error code', () => {
    const errors = doc('errors.md');
    expect(Object.values(ErrorCode).filter((c) => !errors.includes(`\`${c}\``))).toEqual([]);
  });

  it('cli.md documents every command', () => {
    const cli = doc('cli.md');
    for (const cmd of ['call', 'watch', 'status', 'result', 'cancel', 'ls', 'servers', 'dlq ls', 'dlq replay', 'provision', 'dev', 'ui']) {
      expect(cli).toContain(`\`mcpq ${cmd}`);
    }
  });
});
