#!/usr/bin/env node
// Writes the wire contract's JSON Schemas to schemas/v1/ from the zod schemas (run `pnpm schemas`).
// test/unit/json-schemas.test.ts fails when the checked-in files differ from what this writes.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { wireJsonSchemas } from '../dist/index.js';

const dir = fileURLToPath(new URL('../../../schemas/v1/', import.meta.url));
mkdirSync(dir, { recursive: true });
const schemas = wireJsonSchemas();
for (const f of readdirSync(dir)) if (f.endsWith('.json') && !(f in schemas)) rmSync(`${dir}${f}`);
for (const [file, schema] of Object.entries(schemas)) writeFileSync(`${dir}${file}`, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${Object.keys(schemas).length} schemas to schemas/v1/`);
