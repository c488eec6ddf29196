import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the workers/poller and a simulated provider, to take the provider down and
 * back: `down()` closes its listening socket (new connections are refused: provably unsent) and
 * cuts the connections it carries (calls in flight: ambiguous); `up()` listens again on the same port.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  /** The callers' side of each connection carried. */
  readonly #clients = new Set<Socket>();
  port = 0;
  /** Connections open when the proxy went down (cut). */
  cut = 0;

  readonly targetPort: number;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
      this.#clients.add(client);
      client.on('close', () => this.#clients.delete(client));
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => done());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : this.port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((done) => server.close(() => done()));
    this.cut += this.#clients.size;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    this.#clients.clear();
    await closed;
  }
}
