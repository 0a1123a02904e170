/**
 * The deployment files (deploy/) stay true to the code: every metric the
 * Grafana dashboard and the Prometheus alerts query exists in the services'
 * metric registry, the docs list every metric and alert, the Kubernetes
 * manifests run a valid config on a NATS cluster that keeps acknowledged
 * calls, and the image runs a supported Node LTS.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { createMetrics, loadConfig, QueueStats, SERVICE_NODE_FLAGS, Telemetry } from '@mcpq/shared';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}
interface Panel {
  type: string;
  title: string;
  description?: string;
  targets?: Array<{ expr: string }>;
}

const alerts = (parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap(
  (g) => g.rules,
);
const dashboard = JSON.parse(read('deploy/grafana/mcpq-dashboard.json')) as {
  panels: Panel[];
  templating: { list: Array<{ query: unknown }> };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

/** Every series name a service can expose (histograms as _bucket, _sum, _count). */
async function exposedNames(): Promise<Set<string>> {
  // Queue gauges with no queue to read: registered, and JetStream is never asked.
  const queues = new QueueStats(undefined as never, []);
  const registry = createMetrics('test', new Telemetry(), { inFlight: () => 0, held: () => 0, parked: () => 0, queues });
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

const mcpqNames = (expr: string) => expr.match(/\bmcpq_[a-z0-9_]+/g) ?? [];

/** Kubernetes objects of one manifest file. */
const manifests = (file: string) => parseAllDocuments(read(`deploy/kubernetes/${file}`)).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
const find = (file: string, kind: string, name: string) => {
  const found = manifests(file).find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${file} has no ${kind} ${name}`);
  return found;
};

describe('dashboard and alerts', () => {
  it('query only metrics the services expose', async () => {
    const exposed = await exposedNames();
    const queried = [
      ...alerts.flatMap((a) => mcpqNames(a.expr)),
      ...queryPanels.flatMap((p) => (p.targets ?? []).flatMap((t) => mcpqNames(t.expr))),
      ...dashboard.templating.list.flatMap((v) => (typeof v.query === 'string' ? mcpqNames(v.query) : [])),
    ];
    expect(queried.length).toBeGreaterThan(30);
    expect([...new Set(queried.filter((n) => !exposed.has(n)))]).toEqual([]);
  });

  it('every alert has a severity, a summary and a description; every panel a description and a query', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(alerts.filter((a) => !a.labels?.severity || !a.annotations?.summary || !a.annotations.description).map((a) => a.alert)).toEqual(
      [],
    );
    expect(queryPanels.filter((p) => !p.description || !p.targets?.length).map((p) => p.title)).toEqual([]);
  });

  it('docs/operations.md lists every metric, every alert and every dashboard panel', async () => {
    const ops = read('docs/operations.md');
    const metrics = [...(await exposedNames())].filter((n) => !n.startsWith('mcpq_process_') && !/_(bucket|sum|count)$/.test(n));
    expect(metrics.filter((n) => !ops.includes(`\`${n}\``))).toEqual([]);
    expect(alerts.map((a) => a.alert).filter((a) => !ops.includes(`\`${a}\``))).toEqual([]);
    const prose = ops.replace(/\s+/g, ' ');
    expect(queryPanels.map((p) => p.title).filter((t) => !prose.includes(t))).toEqual([]);
  });
});

describe('Kubernetes manifests', () => {
  it('NATS is a 3-node cluster pinned to an exact version that has sync_interval, and fsyncs every write', () => {
    const sts = find('nats.yaml', 'StatefulSet', 'nats');
    expect(sts.spec.replicas).toBe(3);
    const image: string = sts.spec.template.spec.containers[0].image;
    const version = /^nats:(\d+)\.(\d+)\.(\d+)(-alpine)?$/.exec(image);
    expect(version, `${image} is not pinned to an exact version`).not.toBeNull();
    const [major, minor] = [Number(version![1]), Number(version![2])];
    // sync_interval exists from nats-server 2.10.0; 2.9 refuses the option.
    expect(major > 2 || (major === 2 && minor >= 10)).toBe(true);
    const conf: string = find('nats.yaml', 'ConfigMap', 'nats-config').data['nats.conf'];
    expect(conf).toMatch(/^\s*sync_interval: always$/m);
    expect(conf.match(/nats:\/\/nats-\d\.nats-headless:6222/g)).toHaveLength(3);
  });

  it('the pods read a valid mcpq config with 3 replicas of every stream', () => {
    const json: string = find('mcpq-config.yaml', 'ConfigMap', 'mcpq-config').data['config.json'];
    const config = loadConfig({ config: JSON.parse(json), env: { MCPQ_GATEWAY_TOKEN: 'from-the-secret' } });
    expect(config.nats.replicas).toBe(3);
    expect(config.httpPort).toBe(9090);
    expect(config.gateway.tokens.length).toBeGreaterThan(0);
  });

  it('every mcpq container runs a service entry point, probes /readyz and /healthz on httpPort, and is given time to drain', () => {
    const defaults = loadConfig({ config: {}, env: {} });
    const json: string = find('mcpq-config.yaml', 'ConfigMap', 'mcpq-config').data['config.json'];
    // The drain bounds of services/*/src/main.ts: submitter dispatchTimeoutMs + 5 s, joiner 10 s or half of ackWaitMs.
    const drainSeconds: Record<string, number> = {
      submitter: (defaults.submitter.dispatchTimeoutMs + 5_000) / 1000,
      joiner: Math.max(10_000, defaults.joiner.ackWaitMs / 2) / 1000,
      gateway: 0,
    };
    for (const name of ['submitter', 'joiner', 'gateway']) {
      const deployment = find(`${name}.yaml`, 'Deployment', `mcpq-${name}`);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      expect(container.image).toBe('mcpq');
      // The gateway resolves the secrets of gateway.tokens at start-up; the other services do not need them.
      const tokens = [...json.matchAll(/\{\s*"env":\s*"([A-Z0-9_]+)"\s*\}/g)].map((m) => m[1]);
      const set = tokens.filter((n) => container.env.some((e: { name: string }) => e.name === n));
      expect(set).toEqual(name === 'gateway' ? tokens : []);
      expect(container.args).toEqual([
        'node',
        ...SERVICE_NODE_FLAGS[name as keyof typeof SERVICE_NODE_FLAGS],
        `services/${name}/dist/main.js`,
      ]);
      if (name !== 'gateway') expect(existsSync(`${root}services/${name}/src/main.ts`)).toBe(true);
      expect(container.ports.find((p: { name: string }) => p.name === 'http').containerPort).toBe(9090);
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds[name]!);
      expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe('9090');
    }
  });

  it('the kustomization applies every manifest in the directory', () => {
    const kustomization = parseYaml(read('deploy/kubernetes/kustomization.yaml')) as { resources: string[] };
    const files = readdirSync(`${root}deploy/kubernetes`).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });
});

describe('container image', () => {
  /** End of life of each Node LTS line (https://nodejs.org/en/about/previous-releases). */
  const NODE_LTS_END: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30' };

  it("the image's default command is a joiner with the Node flags it ships with (SERVICE_NODE_FLAGS)", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'));
    expect(cmd, 'the Dockerfile has an exec-form CMD').not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual(['node', ...SERVICE_NODE_FLAGS.joiner, 'services/joiner/dist/main.js']);
  });

  it('the Dockerfile builds and runs on one Node LTS that is still supported', () => {
    const bases = [
      ...read('Dockerfile').matchAll(/^FROM node:(\d+)[^\s]* /gm),
      ...read('Dockerfile').matchAll(/^FROM node:(\d+)\S*$/gm),
    ].map((m) => Number(m[1]));
    expect(bases.length).toBe(2);
    expect(new Set(bases).size).toBe(1);
    const end = NODE_LTS_END[bases[0]!];
    expect(end, `node ${bases[0]} is not an LTS line this test knows`).toBeDefined();
    expect(Date.parse(end!)).toBeGreaterThan(Date.now());
  });
});
