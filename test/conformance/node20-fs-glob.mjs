// Runs the MCP conformance suite (@modelcontextprotocol/conformance 0.1.16) on Node 20: its build
// imports `globSync` from "fs", which Node 22 added. `node --import ./node20-fs-glob.mjs` registers a
// resolve hook that gives that package a "fs" with `globSync` (from tinyglobby) added; everything else
// is Node's own fs. On Node 22 and later the hook is not registered.
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') register('./fs-glob-hook.mjs', import.meta.url);
