import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthOptions, Principal } from './auth.ts';
import { sendError } from './replies.ts';

/**
 * `QUEUE_BOARD`: `readonly` shows the queues and jobs; `on` also allows the actions that cannot lose
 * or change work the ledger relies on (see {@link isAllowedAction}); `off` mounts nothing.
 */
export type QueueBoardMode = 'off' | 'readonly' | 'on';

/** Where the board is mounted. */
export const QUEUE_BOARD_PATH = '/admin/queues';

const REALM = 'Basic realm="rechargeflow operators", charset="UTF-8"';
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface QueueBoardDeps {
  readonly producer: JobProducer;
  readonly providerNames: readonly string[];
  readonly mode: Exclude<QueueBoardMode, 'off'>;
  readonly authenticate: (authorization: string | undefined, options?: AuthOptions) => Principal | null;
}

/**
 * Mutating board actions `QUEUE_BOARD=on` allows, by route below the board path. Each is safe for
 * recharge jobs: a retried job finds its order already claimed (`inFlight`) or final and never calls
 * the provider again; a removed job of an order still `queued` is added again by the recovery sweep
 * (`STRANDED_AFTER_MS`), and one of an order in `processing` is recovered after
 * `PROCESSING_STUCK_AFTER_MS`. Everything else is refused: adding jobs or editing their data
 * (bypasses the ledger), emptying or obliterating a queue, cleaning waiting/delayed/active jobs in
 * bulk, changing or removing the poller's job schedulers, concurrency and rate limits (configuration).
 */
const ALLOWED_ACTIONS = new Set([
  'PUT /api/queues/pause',
  'PUT /api/queues/resume',
  'PUT /api/queues/:queueName/pause',
  'PUT /api/queues/:queueName/resume',
  'PUT /api/queues/:queueName/:jobId/retry',
  'PUT /api/queues/:queueName/retry/:queueStatus',
  'PUT /api/queues/:queueName/:jobId/promote',
  'PUT /api/queues/:queueName/promote',
  'PUT /api/queues/:queueName/:jobId/clean',
  'PUT /api/queues/:queueName/clean/:queueStatus',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run',
]);
const CLEANABLE_STATUSES = new Set(['completed', 'failed']);

function isAllowedAction(request: FastifyRequest): boolean {
  const route = (request.routeOptions.url ?? '').slice(QUEUE_BOARD_PATH.length);
  if (!ALLOWED_ACTIONS.has(`${request.method} ${route}`)) return false;
  if (route === '/api/queues/:queueName/clean/:queueStatus') {
    const { queueStatus } = request.params as { queueStatus?: string };
    return CLEANABLE_STATUSES.has(queueStatus ?? '');
  }
  return true;
}

/**
 * Every queue the system runs: one recharge queue per provider, then batches, callbacks, poller and
 * webhooks.
 */
function boardQueues(deps: QueueBoardDeps): BullMQAdapter[] {
  const options = { readOnlyMode: deps.mode === 'readonly', allowRetries: deps.mode === 'on' };
  return [
    ...deps.providerNames.map(
      (provider) =>
        new BullMQAdapter(deps.producer.queue('recharges', provider), {
          ...options,
          description: `one provider call per order, sent to ${provider}`,
        }),
    ),
    new BullMQAdapter(deps.producer.queue('batches'), { ...options, description: 'CSV batch imports' }),
    new BullMQAdapter(deps.producer.queue('callbacks'), {
      ...options,
      description: 'stored provider callbacks to apply',
    }),
    new BullMQAdapter(deps.producer.queue('poller'), {
      ...options,
      description: 'status-check sweeps and balance samples',
    }),
    new BullMQAdapter(deps.producer.queue('webhooks'), {
      ...options,
      description: 'webhook deliveries (a delayed one waits out its back-off)',
    }),
  ];
}

/**
 * bull-board at `/admin/queues`, for keys with the operator role only. The UI's own page loads and
 * XHRs come from the browser, which cannot add a Bearer header, so HTTP Basic with an operator key
 * as the password is accepted too; a 401 carries a Basic challenge so the browser asks for it.
 */
export async function registerQueueBoard(app: FastifyInstance, deps: QueueBoardDeps): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: boardQueues(deps),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Rechargeflow queues' } },
  });

  const requireOperator = async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = deps.authenticate(request.headers.authorization, { basic: true });
    if (!principal) {
      reply.header('www-authenticate', REALM);
      return sendError(
        reply,
        401,
        'unauthorized',
        'send an operator API key as "Authorization: Bearer <key>" or as the password of HTTP Basic',
      );
    }
    if (principal.role !== 'operator') {
      return sendError(reply, 403, 'forbidden', 'the queue board needs an API key with the operator role');
    }
    request.principal = principal;
    if (READ_METHODS.has(request.method)) return;
    // bull-board's readOnlyMode refuses these too (405); refusing here as well keeps every action
    // of a later bull-board version out until it is reviewed.
    if (deps.mode === 'readonly') {
      return sendError(
        reply,
        405,
        'queue_board_read_only',
        'the queue board is read-only (QUEUE_BOARD=readonly)',
      );
    }
    if (!isAllowedAction(request)) {
      return sendError(
        reply,
        403,
        'queue_board_action_refused',
        'this board action could lose or change work the ledger relies on; allowed: retry, promote, pause, resume, remove a job, clean completed or failed jobs',
      );
    }
    request.log.warn(
      { operator: principal.clientId, method: request.method, url: request.url },
      'queue board action',
    );
  };

  await app.register(async (scope) => {
    scope.addHook('onRequest', requireOperator);
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
