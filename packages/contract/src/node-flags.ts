/**
 * The Node flags each service is started with, wherever mcpq starts it: the
 * image's CMD, docker-compose.yml, the Kubernetes manifests, `mcpq dev`, and
 * the service processes of the tests and the benchmark (testkit), so that
 * what is measured is what an operator runs. This is their one home;
 * test/unit/deploy.test.ts checks that the static files carry them.
 *
 * joiner, `--max-semi-space-size=4`: caps each of V8's two young-generation
 * semi-spaces at 4 MB (the default on 64-bit lets them grow to 16 MB). Under
 * load they grow to the default and stay there, which at 1,000 parked task
 * calls was most of the joiner's RSS: 24.7-34 KB per parked call without the
 * flag against 8.4 KB with it, at the same CPU (0.059 against 0.060 core) in
 * the same quiet run (bench/README.md, "Joiner RSS per parked call"). The
 * submitter allocates far more per second, so a small young generation would
 * cost it scavenges and promotions: it keeps V8's default.
 */
export const SERVICE_NODE_FLAGS = {
  submitter: [],
  joiner: ['--max-semi-space-size=4'],
  gateway: [],
} as const satisfies Record<'submitter' | 'joiner' | 'gateway', readonly string[]>;
