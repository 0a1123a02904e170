/**
 * @mcpq/contract: what a caller needs to talk to mcpq — the wire contract
 * (zod schemas, subject and stream names, trace context), error codes, the
 * call record's schema, the config schema and the NATS connection it describes.
 * No logger, no metrics, no MCP client: the services' internals are in @mcpq/shared.
 */
export * from './errors.js';
export * from './wire/names.js';
export * from './wire/schemas.js';
export * from './wire/trace.js';
export * from './wire/joiner-report.js';
export * from './wire/task-status-cue.js';
export * from './wire/reply.js';
export * from './wire/json-schema.js';
export * from './record.js';
export * from './config/schema.js';
export * from './config/load.js';
export * from './config/record-ttl.js';
export * from './nats/connect.js';
export * from './nats/errors.js';
export * from './backoff.js';
export * from './node-flags.js';
