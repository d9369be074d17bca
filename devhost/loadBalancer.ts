/**
 * The front of a scaled-out app: one address for N local host instances, as Azure's front end is
 * one hostname for every instance of a Function App. Each request goes to the next instance in
 * turn (round robin); an instance that refuses the connection (stopped, or killed) is skipped for
 * the next one, as a load balancer's health probe takes a dead instance out. A request an instance
 * dropped mid-way (killed while it ran) is answered 502, as Azure's front end does: the caller
 * (Event Grid, a client) retries. Requests are streamed through unchanged, headers and all.
 *
 * It lives in the local host (not the emulator): the emulator is Azure's APIs, this is the app's
 * own front door, and Event Grid delivers to it exactly as to one webhook.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoadBalancer {
  /** `http://127.0.0.1:<port>`: the app's one address. */
  readonly url: string;
  /** How many requests each instance was sent (index = instance), for tests and the chaos figures. */
  readonly sent: readonly number[];
  /** Replaces the instance at `index` (a restarted instance listens on a new port). */
  setBackend(index: number, url: string): void;
  stop(): Promise<void>;
}

/** Starts the front on `port` (0 = a free one) over `backends` (each `http://host:port`). */
export async function startLoadBalancer(backends: readonly string[], options: { port?: number } = {}): Promise<LoadBalancer> {
  if (backends.length === 0) throw new Error('a load balancer needs at least one instance');
  const targets = backends.map((b) => new URL(b));
  const sent = targets.map(() => 0);
  let next = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tried: number) => {
    const index = next++ % targets.length;
    const target = targets[index]!;
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' && tried + 1 < targets.length) return forward(req, res, body, tried + 1);
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`Bad gateway: the instance did not answer (${error.code ?? error.message}).`);
    });
    sent[index]! += 1;
    upstream.end(body);
  };

  const server: Server = createServer((req, res) => {
    // Buffered, so a request refused by one instance can be sent whole to the next.
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    setBackend(index, url) {
      if (index < 0 || index >= targets.length) throw new Error(`no instance ${index}`);
      targets[index] = new URL(url);
    },
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
