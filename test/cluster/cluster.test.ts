/**
 * A 3-node JetStream cluster with every stream and the KV bucket at 3
 * replicas. In the middle of 200 calls the node leading the streams is
 * killed, then the node the submitter is connected to: services and client
 * ride through (they reconnect to another node) and every call ends with
 * exactly one result.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster, type NatsServer } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let cluster: NatsCluster | undefined;
let h: Harness | undefined;
afterAll(async () => {
  await h?.close(); // disposes of the cluster too
});

function asNatsServer(c: NatsCluster): NatsServer {
  const noop = async () => undefined;
  return {
    url: c.url,
    port: c.nodes[0]!.port,
    storeDir: '',
    httpPort: c.nodes[0]!.httpPort,
    pid: undefined, // three processes, none of them the server
    external: false,
    kill: noop,
    stop: noop,
    restart: noop,
    dispose: () => c.dispose(),
  };
}

describe('3-node cluster, replicas 3', () => {
  it("killing the stream leader, then the submitter's node, in the middle of 200 calls: every call ends with exactly one result", async () => {
    cluster = await startNatsCluster({ size: 3 });
    h = await createHarness({ nats: asNatsServer(cluster), config: { nats: { replicas: 3 } } });
    await h.start('submitter');
    await h.start('joiner');
    await h.start('joiner');
    const jsm = await h.jsm();
    for (const stream of [h.names.streams.submit, h.names.streams.join, h.names.streams.events, `KV_${h.names.bucket}`]) {
      const info = await jsm.streams.info(stream);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas).toHaveLength(2);
    }

    const ids: string[] = [];
    const kinds = [
      ['echo', { text: 'x' }],
      ['slow', { durationMs: 2_000, steps: 2 }],
      ['slow_idempotent', { durationMs: 2_000, steps: 2 }],
    ] as const;
    const submitting = (async () => {
      for (let i = 0; i < 200; i++) {
        const [tool, args] = kinds[i % kinds.length]!;
        // The client retries through the failover itself (same callId, deduplicated by the stream).
        ids.push((await h!.client.submit('demo', tool, args, { callId: `cl-${i}` })).callId);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();

    await waitFor('60 calls submitted', () => ids.length >= 60, 60_000);
    const leader = (await jsm.streams.info(h.names.streams.submit)).cluster!.leader!;
    await cluster.kill(leader);
    await new Promise((r) => setTimeout(r, 3_000));
    await cluster.restart(leader);
    await cluster.waitForMetaLeader();

    const submitterNode = await waitFor('the submitter connected', () => cluster!.nodeWithConnection('mcpq-submitter'));
    await cluster.kill(submitterNode.name);
    await new Promise((r) => setTimeout(r, 3_000));
    await cluster.restart(submitterNode.name);
    await submitting;

    const results = await Promise.all(ids.map((id) => h!.client.result(id, { timeoutMs: 120_000 })));
    const statuses: Record<string, number> = {};
    for (const r of results)
      statuses[`${r.status}${r.error ? `/${r.error.code}` : ''}`] = (statuses[`${r.status}${r.error ? `/${r.error.code}` : ''}`] ?? 0) + 1;
    console.log(JSON.stringify({ killed: [leader, submitterNode.name], statuses }));
    for (const id of ids) expect((await h.storedEvents(id)).results).toHaveLength(1);
    expect(results.filter((r) => r.status !== 'completed').map((r) => `${r.callId}: ${r.error?.code} ${r.error?.message}`)).toEqual([]);
    expect(new Set(ids).size).toBe(200);
  }, 300_000);
});
