/** @mcpq/testkit: real processes for tests and the benchmark (never used by mcpq itself). */
export * from './nats-server.js';
export * from './service-process.js';
export * from './nats-cluster.js';
