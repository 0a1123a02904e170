export { startExampleServer, type ExampleServer, type ExampleServerOptions } from './server.js';
export { StreamEventStore, type EventStoreFault, type EventStoreOptions } from './event-store.js';
export { CALL_ID_META_KEY } from './tools.js';
export type { ServerStats } from './stats.js';
