/**
 * A fault injector for NATS (a TCP proxy, not a NATS server) that plays a
 * lagging replica: a direct get (`$JS.API.DIRECT.GET.<stream>.<subject>`)
 * that `stale` picks is sent on for a subject that holds nothing, so the
 * real nats-server answers "no message found" — what a replica that has not
 * applied the latest write yet answers (any replica answers a direct get; in
 * a 3-node cluster one read in 20 right after a write's acknowledgement does,
 * measured on nats-server 2.9.10, but not on demand). Everything else, reads
 * through the stream's leader (`$JS.API.STREAM.MSG.GET`) included, passes.
 */
import type { Socket } from 'node:net';
import { nextOperation, startTcpProxy, type TcpProxy } from './nats-cut-proxy.js';

const DIRECT_GET = '$JS.API.DIRECT.GET.';

export class StaleReadProxy {
  /** Direct gets answered as a lagging replica would, so far. */
  staleReads = 0;

  private constructor(
    private readonly proxy: TcpProxy,
    private readonly stale: (subject: string) => boolean,
  ) {}

  get url(): string {
    return this.proxy.url;
  }

  /** `stale(subject)` picks the direct gets (by their full request subject) to answer as not found. */
  static async start(natsUrl: string, stale: (subject: string) => boolean): Promise<StaleReadProxy> {
    let player: StaleReadProxy | undefined;
    const proxy = await startTcpProxy(natsUrl, (client, upstream) => player!.wire(client, upstream));
    player = new StaleReadProxy(proxy, stale);
    return player;
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  private wire(client: Socket, upstream: Socket): void {
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const op = nextOperation(pending);
        if (!op) return;
        const subject = op.message?.subject;
        if (subject?.startsWith(DIRECT_GET) && this.stale(subject)) {
          this.staleReads++;
          // The same request for a subject under the stream that no message is stored on: the size fields stay right.
          const eol = pending.indexOf('\r\n');
          const line = pending.subarray(0, eol).toString('latin1');
          upstream.write(
            Buffer.concat([Buffer.from(line.replace(subject, emptySubject(subject)), 'latin1'), pending.subarray(eol, op.length)]),
          );
        } else upstream.write(pending.subarray(0, op.length));
        pending = pending.subarray(op.length);
      }
    });
  }
}

/** The request for the same stream and kind of subject, for a call (or key) nothing was ever stored for. */
function emptySubject(subject: string): string {
  return subject
    .replace(/^(\$JS\.API\.DIRECT\.GET\.[^.]+\.\$KV\.[^.]+\.).+$/, '$1mcpq-stale-read')
    .replace(/^(\$JS\.API\.DIRECT\.GET\.[^.]+\..+\.call\.)[^.]+(\.[^.]+)$/, '$1mcpq-stale-read$2');
}
