import { maxHeaderSize } from 'node:http';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { CARD_NUMBER_REMOVED, findCardNumber } from '@rechargeflow/domain';
import { FILTER_SCAN_BUDGET, type LedgerStore } from '@rechargeflow/ledger';
import { applyListenerLimits, type ListenerLimits, type Metrics } from '@rechargeflow/observability';
import {
  type CatalogDeps,
  type OrderDeps,
  type OrderEvents,
  type OrderLog,
  submitOrder,
  toOrderView,
} from '@rechargeflow/orders';
import { type ProviderRegistry, providerRegistry } from '@rechargeflow/providers';
import type { JobProducer, QueueConnection } from '@rechargeflow/queue';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { archivedMessage, findArchivedOrder } from './archived-orders.ts';
import { createAuthenticator, type KeyEntry, type Principal } from './auth.ts';
import { type BatchLimits, registerBatchRoutes } from './batch-routes.ts';
import { redactCallbackUrl, registerCallbackRoute } from './callback-route.ts';
import { parseJsonBody } from './json-body.ts';
import {
  API_TAGS,
  errorDoc,
  errorResponsesOf,
  orderDoc,
  rechargeBodyWithExampleDoc,
  tagOf,
} from './openapi.ts';
import { registerOperatorRoutes } from './operator-routes.ts';
import { QUEUE_BOARD_PATH, type QueueBoardMode, registerQueueBoard } from './queue-board.ts';
import { redisRateLimitStore } from './redis-rate-limit-store.ts';
import { sendError, sendValidation } from './replies.ts';
import {
  answerSilentConnections,
  clientErrorHandler,
  frameworkErrorHandler,
  installBodyGuards,
  refusalFor,
} from './request-guards.ts';
import { listQuerySchema, parseRechargeBody, zodIssuesToFieldIssues } from './request-parsing.ts';
import { registerWebhookRoutes, type WebhookSettings } from './webhook-routes.ts';

export interface ApiDeps {
  readonly ledger: LedgerStore;
  readonly producer: JobProducer;
  readonly logger: FastifyBaseLogger & OrderLog;
  readonly metrics?: Metrics | undefined;
  readonly keys: readonly KeyEntry[];
  /** Requests per minute per client key (unauthenticated requests: per IP address). */
  readonly rateLimitPerMinute: number;
  /** Callback requests per minute per sending IP address (the provider's). Default 6,000. */
  readonly callbackRateLimitPerMinute?: number | undefined;
  /**
   * Where the rate-limit counters live: Redis (every API replica shares them) under
   * `<rateLimitPrefix>:rate-limit:`. Without it, each process counts alone (tests only). A
   * connection that fails fast (no offline queue): while it fails, requests are refused with 503,
   * except callbacks, which are then counted in this process.
   */
  readonly rateLimitRedis?: QueueConnection | undefined;
  readonly rateLimitPrefix?: string | undefined;
  readonly bodyLimitBytes: number;
  /**
   * Timeouts and connection cap of the listener (HTTP_* variables; `listenerLimits` of
   * observability). Unset (tests): Node's defaults, which bound neither.
   */
  readonly listenerLimits?: ListenerLimits | undefined;
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe (default none). */
  readonly trustProxy?: boolean | readonly string[] | undefined;
  /** Throws when a dependency the API needs (ledger, queue Redis) does not answer. */
  readonly readiness: () => Promise<void>;
  readonly events?: OrderEvents | undefined;
  /**
   * LEDGER_ARCHIVE_DIR: where retention archives final orders. `GET /v1/recharges/:orderId` answers
   * an order no longer in the ledger from it (`archived: true`). Unset: such an order is `410`
   * while its tombstone stands, else `404`.
   */
  readonly archiveDir?: string | undefined;
  /** Accepted callback tokens (CALLBACK_TOKEN, comma-separated for rotation); empty: no callback route. */
  readonly callbackTokens?: readonly string[] | undefined;
  /** Providers listed in reports even when they had no orders (PROVIDERS; default: the default provider). */
  readonly providerNames?: readonly string[] | undefined;
  /**
   * The provider registry: which providers take callbacks (a route each) and what their statuses
   * mean. Default: this build's registry.
   */
  readonly providerRegistry?: ProviderRegistry | undefined;
  /** The routing table: providers to try for a new order. */
  readonly routeFor?: OrderDeps['routeFor'];
  /** Upload limits of CSV batches. */
  readonly batchLimits?: BatchLimits | undefined;
  /** Webhook endpoints (WEBHOOK_* variables). Unset: registration answers 503, private URLs refused. */
  readonly webhooks?: WebhookSettings | undefined;
  /** Each provider's health, breaker state and last known balance (GET /v1/providers). */
  readonly providersStatus?: (() => Promise<readonly unknown[]>) | undefined;
  /**
   * bull-board at /admin/queues for operator keys (QUEUE_BOARD): `readonly` shows queues and jobs,
   * `on` also allows the safe actions (retry, promote, pause, remove). Default `off`.
   */
  readonly queueBoard?: QueueBoardMode | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The query parameters a route takes: any other one is refused (400, named). */
    query?: readonly string[];
  }
}

const security = [{ bearer: [] }];

const statusDoc = {
  type: 'object',
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
} as const;

/** Longest path segment the router matches (an orderId is at most 64); longer is 414. */
const MAX_PARAM_LENGTH = 100;

/**
 * A run of digits in a URL, each digit as written or percent-encoded (`%34`), separated by at most
 * three spaces, `+`, dashes or their escapes: where a card number may hide in a path or query.
 */
const URL_DIGIT_RUN = /(?:\d|%3\d)(?:(?:[\s+-]|%20|%2[bBdD]){0,3}(?:\d|%3\d))*/g;

/**
 * The request URL as logged: the callback token cut out (redactCallbackUrl), and every card number
 * in it, however it is written, replaced (a client may send one in a path or a query parameter).
 */
function loggableUrl(url: string): string {
  return redactCallbackUrl(url).replace(URL_DIGIT_RUN, (run) => {
    if (run.length < 13) return run;
    const written = run.replace(/%3(\d)/g, '$1').replace(/%20|%2[bBdD]|\+/g, ' ');
    return findCardNumber(written) === null ? run : CARD_NUMBER_REMOVED;
  });
}

/** What a provider's callback may carry besides its query string. */
const CALLBACK_BODY_TYPES = ['application/x-www-form-urlencoded', 'application/json', 'text/plain'];

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const queueBoard = deps.queueBoard ?? 'off';
  const onClientError = clientErrorHandler(deps.logger, maxHeaderSize);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes,
    trustProxy: typeof deps.trustProxy === 'object' ? [...deps.trustProxy] : (deps.trustProxy ?? false),
    // Requests are logged by our own hook, with the callback token cut out of the URL.
    logController: new LogController({ disableRequestLogging: true }),
    // Route schemas describe the API for /docs; our own parsers validate, so every bad field is
    // reported together in one error format.
    ajv: { customOptions: { strict: false } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Refusals before routing and before a request exists: in our error shape too.
    frameworkErrors: frameworkErrorHandler(MAX_PARAM_LENGTH),
    clientErrorHandler: onClientError,
    // A request without Host is refused by installBodyGuards, in our shape (Node's is a bare 400).
    http: { requireHostHeader: false },
  });
  if (deps.listenerLimits) {
    applyListenerLimits(app.server, deps.listenerLimits, deps.logger);
    answerSilentConnections(app.server, onClientError);
  }
  installBodyGuards(app);
  // JSON bodies strictly: a repeated key (`"amount":10,"amount":5000`) or `__proto__` is a 400
  // naming it, never silently the last value.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  const authenticate = createAuthenticator(deps.keys);
  // The Bearer key's principal, hashed once per request: the rate limit's key and the routes'
  // authentication both need it (each hash was ~2 % of the API's CPU).
  const bearerOf = new WeakMap<FastifyRequest, Principal | null>();
  const bearerPrincipal = (request: FastifyRequest): Principal | null => {
    let principal = bearerOf.get(request);
    if (principal === undefined) {
      principal = authenticate(request.headers.authorization);
      bearerOf.set(request, principal);
    }
    return principal;
  };
  const rateLimitNameSpace = `${deps.rateLimitPrefix ?? 'rechargeflow'}:rate-limit:`;

  // Per client, shared by every replica through Redis: the key identifies the client (a request
  // with no valid key is counted per IP address, which also slows down key guessing). Runs before
  // authentication (onRequest), so a flood of bad keys never reaches the ledger.
  await app.register(rateLimit, {
    global: true,
    max: deps.rateLimitPerMinute,
    timeWindow: 60_000,
    // One INCR per request on Redis (the plugin's own Redis store runs a 3-command script).
    ...(deps.rateLimitRedis ? { store: redisRateLimitStore(deps.rateLimitRedis, rateLimitNameSpace) } : {}),
    // Fail closed: without its counters the API answers 503 rather than serve without limits
    // (the callback route, which must store what a provider sends, counts on its own).
    skipOnError: false,
    keyGenerator: (request) => {
      // Basic only when no Bearer key matched (the queue board's browser sends Basic).
      const principal =
        bearerPrincipal(request) ?? authenticate(request.headers.authorization, { basic: true });
      return principal ? `client:${principal.clientId}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`rate limit exceeded, retry in ${context.after}`), {
        statusCode: context.statusCode,
      }),
  });

  // Refused requests are the client's doing: a 4xx in the documented shape, named in the request's
  // info log line (below), no stack. Only our own faults are a 503 with an error log.
  const refused = new WeakMap<FastifyRequest, string>();
  app.setErrorHandler((error: Error, request, reply) => {
    const refusal = refusalFor(error, request, reply);
    if (refusal) {
      refused.set(request, refusal.error);
      return sendError(reply, refusal.status, refusal.error, refusal.message, refusal.issues);
    }
    request.log.error({ err: error }, 'request failed');
    return sendError(
      reply,
      503,
      'unavailable',
      'the service could not complete the request; it is safe to repeat it with the same orderId',
    );
  });
  // Unknown paths count against the same per-key/per-address limit (scanners too).
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (_request, reply) =>
    sendError(reply, 404, 'not_found', 'no such route'),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rechargeflow ingest API',
        version: '1.0.0',
        description:
          queueBoard === 'off'
            ? 'Submit recharges once; read their state and history.'
            : `Submit recharges once; read their state and history. Operators: the queue board (bull-board, ${queueBoard === 'readonly' ? 'read-only' : 'retry, promote, pause, remove'}) is at ${QUEUE_BOARD_PATH}, with an operator key as Bearer or as the password of HTTP Basic.`,
      },
      tags: API_TAGS.map((tag) => ({ ...tag })),
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Every documented route: its tag, and every error it may answer in the one error shape.
  app.addHook('onRoute', (route) => {
    const tag = tagOf(route.url);
    if (!tag || route.schema?.hide) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    route.schema = {
      ...route.schema,
      tags: [tag],
      response: errorResponsesOf(
        route.url,
        methods.includes('POST') ? 'POST' : String(methods[0]),
        (route.schema?.response as Record<string, unknown> | undefined) ?? {},
      ),
    };
  });

  const registry = deps.providerRegistry ?? providerRegistry;
  const providerNames = deps.providerNames ?? [registry.defaultProvider];
  const orderDeps: OrderDeps & CatalogDeps = {
    providerCatalog: registry,
    ledger: deps.ledger,
    producer: deps.producer,
    log: deps.logger,
    events: deps.events,
    routeFor: deps.routeFor,
  };

  await app.register(formbody, { bodyLimit: deps.bodyLimitBytes });

  app.addHook('onResponse', async (request, reply) => {
    // Answers that went as asked are debug (the ledger keeps every order's history; a line per
    // request costs ~10% of the API's CPU at load); refusals and failures stay visible at info.
    request.log[reply.statusCode < 400 ? 'debug' : 'info'](
      {
        method: request.method,
        url: loggableUrl(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(refused.has(request) ? { refused: refused.get(request) } : {}),
      },
      'request',
    );
    deps.metrics?.httpRequestsTotal.inc({
      route: request.routeOptions.url ?? 'unmatched',
      method: request.method,
      status: String(reply.statusCode),
    });
  });

  // Every answer: not cached by intermediaries, not sniffed as another type, no referrer leaks.
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (request.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
  });

  const requireClient = async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = bearerPrincipal(request);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer');
      return sendError(reply, 401, 'unauthorized', 'send a valid API key as "Authorization: Bearer <key>"');
    }
    request.principal = principal;
    // Routes that declare their query parameters refuse any other (a misspelt `limit` is an error,
    // not silently the default) — after authentication, so route shapes are not shown to strangers.
    const allowed = request.routeOptions.config.query;
    if (!allowed) return;
    const unknown = Object.keys((request.query as Record<string, unknown> | undefined) ?? {}).filter(
      (name) => !allowed.includes(name),
    );
    if (unknown.length > 0) {
      return sendValidation(
        reply,
        unknown.map((field) => ({ field, rule: 'unknown_field', message: 'is not a known parameter' })),
      );
    }
  };

  app.post(
    '/v1/recharges',
    {
      preHandler: requireClient,
      schema: {
        summary: 'Submit one recharge (idempotent on orderId)',
        security,
        body: rechargeBodyWithExampleDoc,
        response: {
          200: orderDoc,
          202: orderDoc,
          400: errorDoc,
          401: errorDoc,
          409: errorDoc,
          413: errorDoc,
          415: errorDoc,
          422: errorDoc,
          429: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const parsed = parseRechargeBody(request.body);
      if (!parsed.ok) return sendValidation(reply, parsed.issues);
      const outcome = await submitOrder(orderDeps, {
        clientId: principal.clientId,
        orderId: parsed.orderId,
        request: parsed.request,
      });
      switch (outcome.kind) {
        case 'created':
          return reply.code(202).send(toOrderView(outcome.order));
        case 'existing':
          return reply.code(200).send(toOrderView(outcome.order));
        case 'conflict':
          return sendError(
            reply,
            409,
            'order_id_conflict',
            `orderId ${parsed.orderId} was already used for a different recharge; use a new orderId`,
          );
      }
    },
  );

  app.get(
    '/v1/recharges/:orderId',
    {
      preHandler: requireClient,
      config: { query: ['clientId'] },
      schema: {
        summary: 'One order with its full history',
        security,
        params: { type: 'object', properties: { orderId: { type: 'string' } } },
        response: { 200: orderDoc, 404: errorDoc, 410: errorDoc },
      },
    },
    async (request, reply) => {
      const { orderId } = request.params as { orderId: string };
      const { clientId: asked } = request.query as { clientId?: string };
      // Operators may read any client's order; clients only their own.
      const clientId = request.principal!.role === 'operator' && asked ? asked : request.principal!.clientId;
      const order = await deps.ledger.getOrder({ clientId, orderId });
      if (order) return reply.send(toOrderView(order));
      // Retention hook: an order archived past LEDGER_RETENTION is answered from the archive.
      const archived = await findArchivedOrder(deps, { clientId, orderId });
      if (archived === 'archived') {
        return sendError(reply, 410, 'order_archived', archivedMessage(orderId));
      }
      if (archived) return reply.send({ ...toOrderView(archived.order), archived: true });
      return sendError(reply, 404, 'order_not_found', `no order ${orderId} for this client`);
    },
  );

  app.get(
    '/v1/recharges',
    {
      preHandler: requireClient,
      schema: {
        summary: 'A page of orders, newest first',
        description: `With \`status\`, a page may hold fewer than \`limit\` orders, even none, while \`nextCursor\` is set (the Redis ledger reads at most ${FILTER_SCAN_BUDGET.toLocaleString('en')} orders per request): follow \`nextCursor\` until it is absent.`,
        security,
        querystring: {
          type: 'object',
          properties: { status: { type: 'string' }, limit: { type: 'integer' }, cursor: { type: 'string' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              orders: { type: 'array', items: orderDoc },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const query = listQuerySchema.safeParse(request.query);
      if (!query.success) return sendValidation(reply, zodIssuesToFieldIssues(query.error));
      // A foreign cursor is the ledger's ValidationError: a 400 naming `cursor` (error handler).
      const page = await deps.ledger.listOrders(request.principal!.clientId, {
        state: query.data.status,
        limit: query.data.limit,
        cursor: query.data.cursor,
      });
      return reply.send({ orders: page.orders.map(toOrderView), nextCursor: page.nextCursor ?? null });
    },
  );

  // The callback route takes what providers send: its query string, a form, JSON or plain text.
  await app.register(async (callbacks) => {
    callbacks.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, consumes: CALLBACK_BODY_TYPES };
    });
    registerCallbackRoute(callbacks, {
      providers: registry.callbackModules,
      ledger: deps.ledger,
      producer: deps.producer,
      logger: deps.logger,
      metrics: deps.metrics,
      tokens: deps.callbackTokens ?? [],
      perMinute: deps.callbackRateLimitPerMinute ?? 6_000,
      rateLimitRedis: deps.rateLimitRedis,
      rateLimitNameSpace,
    });
  });
  registerOperatorRoutes(app, {
    ledger: deps.ledger,
    orderDeps,
    providerNames,
    requireClient,
  });

  await registerBatchRoutes(app, {
    ledger: deps.ledger,
    producer: deps.producer,
    requireClient,
    limits: deps.batchLimits ?? {
      maxBytes: 100 * 1024 * 1024,
      maxRows: 1_000_000,
      maxRowBytes: 1_024,
      maxImportingPerClient: 3,
    },
  });

  registerWebhookRoutes(app, {
    store: deps.ledger,
    producer: deps.producer,
    settings: deps.webhooks ?? { allowPrivate: false, maxEndpointsPerClient: 10 },
    requireClient,
  });

  app.get(
    '/v1/providers',
    {
      preHandler: requireClient,
      config: { query: [] },
      schema: { summary: 'Each provider: health, circuit breaker state, last known balance', security },
    },
    async () => ({ providers: deps.providersStatus ? await deps.providersStatus() : [] }),
  );

  // Probes are never limited: an orchestrator polling them must not be refused.
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', response: { 200: statusDoc } }, config: { rateLimit: false } },
    async () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: ledger and queue answer',
        response: {
          200: statusDoc,
          503: { ...statusDoc, description: 'a dependency does not answer: `{status: "not_ready", reason}`' },
        },
      },
      config: { rateLimit: false },
    },
    async (_request, reply) => {
      try {
        await deps.readiness();
        return { status: 'ready' };
      } catch (error) {
        return reply
          .code(503)
          .send({ status: 'not_ready', reason: error instanceof Error ? error.message : String(error) });
      }
    },
  );
  if (queueBoard !== 'off') {
    await registerQueueBoard(app, {
      producer: deps.producer,
      providerNames,
      mode: queueBoard,
      authenticate,
    });
  }
  if (deps.metrics) {
    const registry = deps.metrics.registry;
    // On the public port only for operator keys; Prometheus scrapes the API's METRICS_PORT, which
    // is meant for the internal network only (like the workers' and the poller's).
    app.get('/metrics', { schema: { hide: true }, preHandler: requireClient }, async (request, reply) => {
      if (request.principal?.role !== 'operator') {
        return sendError(reply, 403, 'forbidden', 'metrics need an API key with the operator role');
      }
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  }
  return app;
}
