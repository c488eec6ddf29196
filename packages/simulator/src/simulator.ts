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
  type BookEntry,
  type CallbackBatch,
  createEngine,
  type Endpoint,
  type OrderView,
  type ReplyPlan,
  type RequestLogEntry,
  type ReverseResult,
  type SimulatorLogger,
  type SimulatorStats,
} from './engine.ts';
import { SimulatorError } from './errors.ts';
import {
  DEFAULT_TELGOO5_CREDENTIALS,
  type Telgoo5Credentials,
  type Telgoo5Script,
  telgoo5ScriptSchema,
} from './telgoo5/config.ts';
import {
  createTelgoo5Engine,
  type Telgoo5RequestEntry,
  type Telgoo5Stats,
  type Telgoo5Topup,
} from './telgoo5/engine.ts';
import { registerTelgoo5Routes } from './telgoo5/routes.ts';
import type { TokenRejection } from './telgoo5/tokens.ts';

export interface SimulatorOptions extends Partial<RuntimeConfig> {
  /** Credentials the simulator accepts; anything else gets a Failure answer. */
  readonly username?: string;
  readonly password?: string;
  /** Starting balance in rupees (default 100000). */
  readonly initialBalance?: number;
  /** PRNG seed for random faults; a random one is chosen (and reported in stats) when absent. */
  readonly seed?: number;
  readonly logger?: SimulatorLogger;
  /** What the Telgoo5 part (under `/telgoo5`) accepts; defaults are fine for demos. */
  readonly telgoo5?: Partial<Telgoo5Credentials>;
}

/** The Telgoo5 part: same methods as its `/_sim/telgoo5/*` endpoints. */
export interface Telgoo5Simulator {
  stats(): Telgoo5Stats;
  /** Applied top-ups, oldest first; for one MDN when given. */
  topups(mdn?: string): readonly Telgoo5Topup[];
  /** The last 1000 requests to `/telgoo5/*`: field names only. */
  requests(): readonly Telgoo5RequestEntry[];
  /** Same as `POST /_sim/telgoo5/script`; throws when the script is invalid. */
  script(script: Telgoo5Script): void;
  /** Same as `POST /_sim/telgoo5/tokens/invalidate`: outstanding tokens answer `as` (default invalid). */
  invalidateTokens(as?: TokenRejection): number;
  reset(): void;
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
  /** Same as `GET /_sim/orders`: every A1Topup order received, oldest first (what was charged). */
  books(): readonly BookEntry[];
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
  /** Resets both parts (A1Topup and Telgoo5). */
  reset(): void;
  readonly telgoo5: Telgoo5Simulator;
}

function checked<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SimulatorError(400, z.prettifyError(parsed.error));
  return parsed.data;
}

function optionError(error: z.ZodError): Error {
  return new Error(`invalid simulator options:\n${z.prettifyError(error)}`);
}

const telgoo5OptionsSchema = z
  .object({
    vendorId: z.string().min(1),
    username: z.string().min(1),
    password: z.string().min(1),
    pin: z.string().min(1),
    agentIds: z.array(z.string().min(1)).min(1),
    tokenHeader: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name')
      .transform((h) => h.toLowerCase()),
    sources: z.array(z.enum(['WEBSITE', 'API', 'TABLET'])).min(1),
  })
  .strict();

function telgoo5Options(given: Partial<Telgoo5Credentials> | undefined): Telgoo5Credentials {
  const parsed = telgoo5OptionsSchema.safeParse({ ...DEFAULT_TELGOO5_CREDENTIALS, ...given });
  if (!parsed.success) throw optionError(parsed.error);
  return parsed.data;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const { username, password, initialBalance, seed: givenSeed, logger, telgoo5: t5, ...knobs } = options;
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

  const telgoo5Credentials = telgoo5Options(t5);
  const telgoo5 = createTelgoo5Engine({
    credentials: telgoo5Credentials,
    config: () => engine.config(),
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

  /** Carries out a reply plan (both providers): wait, then answer, reset, or hold and drop. */
  async function perform(plan: ReplyPlan, request: FastifyRequest, reply: FastifyReply) {
    await sleep(plan.delayMs);
    // A callback racing the answer: delivered first, or started once the answer has gone out.
    if (plan.beforeSend) await plan.beforeSend();
    const afterSend = plan.afterSend;
    if (afterSend) reply.raw.once('close', afterSend);
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
      case 'trickle': {
        reply.hijack();
        const bytes = Buffer.from(action.body, 'utf8');
        const raw = reply.raw;
        raw.writeHead(action.statusCode, {
          'content-type': action.contentType,
          'content-length': String(bytes.length),
        });
        // Stops when the client gives up (its socket closes) or the simulator closes.
        for (let i = 0; i < bytes.length; i++) {
          if (closing || raw.destroyed || request.raw.socket.destroyed) {
            request.raw.socket.destroy();
            return reply;
          }
          raw.write(bytes.subarray(i, i + 1));
          if (i < bytes.length - 1) await sleep(action.byteMs);
        }
        raw.end();
        return reply;
      }
    }
  }

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
    return perform(plan, request, reply);
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
  app.server.on('connection', () => engine.connectionAccepted());
  // Sockets that carried a recharge, counted once each: tells reuse of recharge connections apart
  // from the reads' kept-alive connections.
  const rechargeSockets = new WeakSet<object>();
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (path !== '/recharge/api' && path !== '/telgoo5/topup') return;
    const socket = request.raw.socket;
    if (rechargeSockets.has(socket)) return;
    rechargeSockets.add(socket);
    engine.rechargeConnectionUsed();
  });
  registerControlRoutes(app, engine, () => {
    engine.reset();
    telgoo5.reset();
  });
  registerTelgoo5Routes(app, telgoo5, telgoo5Credentials.tokenHeader, perform);

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
    books: () => engine.books(),
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
    reset() {
      engine.reset();
      telgoo5.reset();
    },
    telgoo5: {
      stats: () => telgoo5.stats(),
      topups: (mdn) => telgoo5.topups(mdn),
      requests: () => telgoo5.requests(),
      script(script) {
        const parsed = telgoo5ScriptSchema.safeParse(script);
        if (!parsed.success) throw optionError(parsed.error);
        telgoo5.script(parsed.data);
      },
      invalidateTokens: (as) => telgoo5.invalidateTokens(as),
      reset: () => telgoo5.reset(),
    },
  };
}
