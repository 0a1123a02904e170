#!/usr/bin/env node
/** Entry point of the console as a process of its own (`mcpq dev` starts it so). Same flags as `mcpq ui`. */
import { createLogger, describeError } from '@mcpq/shared';
import { runUi } from './ui-command.js';

try {
  await runUi(process.argv.slice(2));
} catch (err) {
  createLogger('console').fatal({ err: describeError(err) }, 'console could not start');
  process.exit(1);
}
