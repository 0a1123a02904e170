/**
 * A JetStream cluster of nats-server processes on loopback: each node with
 * its own name, client, route and monitoring ports and store directory. A
 * node can be killed and restarted on the same ports and store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, natsServerBinary, waitForPort } from './nats-server.js';

export interface ClusterNode {
  name: string;
  port: number;
  clusterPort: number;
  httpPort: number;
  url: string;
  storeDir: string;
  configFile: string;
  running: boolean;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** All client URLs, comma-separated (NATS_URL form). */
  url: string;
  node(name: string): ClusterNode;
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  /** Waits until every running node knows the JetStream meta leader. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** The node whose server has a client connection with this name (see /connz). */
  nodeWithConnection(connectionName: string): Promise<ClusterNode | undefined>;
  dispose(): Promise<void>;
}

export interface ClusterOptions {
  size?: number;
  /** Extra lines for every node's config (auth, accounts...). */
  extraConfig?: string;
}

export async function startNatsCluster(options: ClusterOptions = {}): Promise<NatsCluster> {
  const bin = natsServerBinary();
  if (!bin) throw new Error('nats-server not found: install it (apt-get install -y nats-server) or set NATS_SERVER_BIN');
  const size = options.size ?? 3;
  const base = mkdtempSync(join(tmpdir(), 'mcpq-cluster-'));
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= size; i++) {
    const [port, clusterPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    nodes.push({
      name: `n${i}`,
      port,
      clusterPort,
      httpPort,
      url: `nats://127.0.0.1:${port}`,
      storeDir: join(base, `n${i}`),
      configFile: join(base, `n${i}.conf`),
      running: false,
    });
  }
  const routes = nodes.map((n) => `"nats-route://127.0.0.1:${n.clusterPort}"`).join(', ');
  for (const n of nodes) {
    writeFileSync(
      n.configFile,
      [
        `server_name: "${n.name}"`,
        `listen: "127.0.0.1:${n.port}"`,
        `http: "127.0.0.1:${n.httpPort}"`,
        `jetstream { store_dir: "${n.storeDir}", max_memory_store: 268435456, max_file_store: 2147483648 }`,
        `cluster { name: "mcpq-test", listen: "127.0.0.1:${n.clusterPort}", routes: [${routes}] }`,
        options.extraConfig ?? '',
      ].join('\n'),
    );
  }
  const procs = new Map<string, ChildProcess>();
  const launch = async (n: ClusterNode) => {
    const p = spawn(bin, ['-c', n.configFile], { stdio: ['ignore', 'ignore', 'ignore'] });
    procs.set(n.name, p);
    n.running = true;
    p.once('exit', () => (n.running = false));
    await waitForPort(n.port, 10_000);
  };
  const stop = (name: string, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const p = procs.get(name);
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  await Promise.all(nodes.map(launch));
  const byName = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    node: byName,
    kill: (name) => stop(name, 'SIGKILL'),
    restart: (name) => launch(byName(name)),
    async waitForMetaLeader(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const leaders = await Promise.all(
          nodes
            .filter((n) => n.running)
            .map(async (n) => {
              try {
                const jsz = (await (await fetch(`http://127.0.0.1:${n.httpPort}/jsz`)).json()) as { meta_cluster?: { leader?: string } };
                return jsz.meta_cluster?.leader;
              } catch {
                return undefined;
              }
            }),
        );
        if (leaders.length > 0 && leaders.every((l) => l && l === leaders[0])) return leaders[0]!;
        if (Date.now() > deadline) throw new Error(`no JetStream meta leader after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async nodeWithConnection(connectionName) {
      for (const n of nodes.filter((x) => x.running)) {
        try {
          const connz = (await (await fetch(`http://127.0.0.1:${n.httpPort}/connz?limit=1024`)).json()) as {
            connections?: Array<{ name?: string }>;
          };
          if (connz.connections?.some((c) => c.name === connectionName)) return n;
        } catch {
          // node down
        }
      }
      return undefined;
    },
    async dispose() {
      await Promise.all(nodes.map((n) => stop(n.name, 'SIGTERM')));
      rmSync(base, { recursive: true, force: true });
    },
  };
  await cluster.waitForMetaLeader();
  return cluster;
}
