import type { AddressInfo } from 'node:net';
import { fastifyFormbody } from '@fastify/formbody';
import { parseRupees } from '@rechargeflow/domain';
import { type FastifyInstance, type FastifyReply, type FastifyRequest, fastify } from 'fastify';
import { z } from 'zod';
import {
  type CallbackRequest,
  callbackRequestSchema,
  DEFAULT_RUNTIME_CONFIG,
  type ForcedStatus,
  forceStatusSchema,
  type ReverseOptions,
  type RuntimeConfig,
  type RuntimeConfigPatch,
  reverseRequestSchema,
  runtimeConfigSchema,
  type Script,
  scriptSchema,
} from './config.ts';
import { registerControlRoutes } from './control-routes.ts';
import {
  type CallbackBatch,
  createEngine,
  type Endpoint,
  type OrderView,
  type RequestLogEntry,
  type ReverseResult,
  type SimulatorLogger,
  type SimulatorStats,
} from './engine.ts';
import { SimulatorError } from './errors.ts';

export interface SimulatorOptions extends Partial<RuntimeConfig> {
  /** Credentials the simulator accepts; anything else gets a Failure answer. */
  readonly username?: string;
  readonly password?: string;
  /** Starting balance in rupees (default 100000). */
  readonly initialBalance?: number;
  /** PRNG seed for random faults; a random one is chosen (and reported in stats) when absent. */
  readonly seed?: number;
  readonly logger?: SimulatorLogger;
}

export interface Simulator {
  readonly app: FastifyInstance;
  readonly seed: number;
  /** Listens on loopback and a free port by default. */
  listen(port?: number, host?: string): Promise<{ url: string }>;
  /** Releases held requests, stops timers, waits for callbacks in flight, closes the server. */
  close(): Promise<void>;
  stats(): SimulatorStats;
  order(orderid: string): OrderView | undefined;
  requests(): readonly RequestLogEntry[];
  /** Same as `POST /_sim/script`; throws when the script is invalid. */
  script(script: Script): void;
  config(): RuntimeConfig;
  configure(patch: RuntimeConfigPatch): RuntimeConfig;
  settle(orderid: string): OrderView | false | undefined;
  /**
   * Same as `POST /_sim/callbacks`: resolves when every delivery has finished. Rejects with a
   * SimulatorError (`statusCode` 400 invalid, 404 unknown order, 409 no URL / pending without sequence).
   */
  sendCallbacks(request: CallbackRequest): Promise<CallbackBatch>;
  /** Same as `POST /_sim/reverse/:orderid`; rejects with a SimulatorError (404, 409 not Success). */
  reverse(orderid: string, options?: ReverseOptions): Promise<ReverseResult>;
  /** Same as `POST /_sim/status/:orderid`; `null` clears. Throws a SimulatorError (404). */
  forceStatus(orderid: string, status: ForcedStatus | null): OrderView;
  reset(): void;
}

function checked<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SimulatorError(400, z.prettifyError(parsed.error));
  return parsed.data;
}

function optionError(error: z.ZodError): Error {
  return new Error(`invalid simulator options:\n${z.prettifyError(error)}`);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const { username, password, initialBalance, seed: givenSeed, logger, ...knobs } = options;
  const parsedConfig = runtimeConfigSchema.safeParse({ ...DEFAULT_RUNTIME_CONFIG, ...knobs });
  if (!parsedConfig.success) throw optionError(parsedConfig.error);
  const balance = parseRupees(initialBalance ?? 100_000);
  if (balance === null) throw new Error('invalid simulator options: initialBalance must be a rupee amount');
  const seed = givenSeed ?? Math.floor(Math.random() * 2 ** 31);

  const engine = createEngine({
    username: username ?? 'demo',
    password: password ?? 'demo-password',
    initialBalancePaise: balance,
    seed,
    config: parsedConfig.data,
    logger,
  });

  // Sleeping handlers (latency, slow, timeout) wake early on close, so close never waits a minute.
  const sleepers = new Set<() => void>();
  let closing = false;
  function sleep(ms: number): Promise<void> {
    if (closing || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  const app = fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 });
  void app.register(fastifyFormbody, { bodyLimit: 64 * 1024 });

  async function handle(endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply) {
    // Like the real API: GET query string or POST form; a POST may also carry a query string.
    const query = (request.query ?? {}) as Record<string, unknown>;
    const body = request.body !== null && typeof request.body === 'object' ? request.body : {};
    const params = { ...query, ...(body as Record<string, unknown>) };
    const info = { method: request.method, url: request.raw.url ?? request.url };
    const plan =
      endpoint === 'recharge'
        ? engine.recharge(params, info)
        : endpoint === 'status'
          ? engine.status(params, info)
          : engine.balance(params, info);
    await sleep(plan.delayMs);
    const action = plan.action;
    switch (action.kind) {
      case 'send':
        return reply.code(action.statusCode).header('content-type', action.contentType).send(action.body);
      case 'reset':
        reply.hijack();
        request.raw.socket.resetAndDestroy();
        return reply;
      case 'hold':
        reply.hijack();
        await sleep(action.holdMs);
        request.raw.socket.destroy();
        return reply;
    }
  }

  for (const [path, endpoint] of [
    ['/recharge/api', 'recharge'],
    ['/recharge/status', 'status'],
    ['/recharge/balance', 'balance'],
  ] as const) {
    app.route({
      method: ['GET', 'POST'],
      url: path,
      handler: (request, reply) => handle(endpoint, request, reply),
    });
  }
  registerControlRoutes(app, engine);

  return {
    app,
    seed,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const address = app.server.address() as AddressInfo;
      return { url: `http://${urlHost(host)}:${address.port}` };
    },
    async close() {
      closing = true;
      for (const wake of [...sleepers]) wake();
      await app.close();
      await engine.close();
    },
    stats: () => engine.stats(),
    order: (orderid) => engine.order(orderid),
    requests: () => engine.requests(),
    script(script) {
      const parsed = scriptSchema.safeParse(script);
      if (!parsed.success) throw optionError(parsed.error);
      engine.script(parsed.data);
    },
    config: () => engine.config(),
    configure: (patch) => engine.configure(patch),
    settle: (orderid) => engine.settle(orderid),
    // Async so that a bad request rejects rather than throws, like a refused delivery would.
    sendCallbacks: async (request) => engine.sendCallbacks(checked(callbackRequestSchema, request)),
    reverse: async (orderid, options = {}) => engine.reverse(orderid, checked(reverseRequestSchema, options)),
    forceStatus: (orderid, status) =>
      engine.forceStatus(orderid, checked(forceStatusSchema, { status }).status),
    reset: () => engine.reset(),
  };
}
