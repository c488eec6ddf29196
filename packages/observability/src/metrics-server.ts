import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { applyListenerLimits, type ListenerLimits } from './listener-limits.ts';

/**
 * A bare /metrics endpoint for parts that serve no HTTP of their own (workers, poller), and the
 * API's internal one. `limits` (HTTP_* variables) bound its timeouts and connections like the API's.
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
  limits?: ListenerLimits,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  if (limits) applyListenerLimits(server, limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
