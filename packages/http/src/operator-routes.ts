import { assertNever } from '@rechargeflow/domain';
import type { LedgerStore } from '@rechargeflow/ledger';
import { CALLBACK_OUTCOMES, type CallbackOutcome } from '@rechargeflow/ledger';
import {
  type CatalogDeps,
  type OrderDeps,
  reconcile,
  resolveOrder,
  reverseOrder,
  toOrderView,
} from '@rechargeflow/orders';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { errorDoc, orderDoc } from './openapi.ts';
import { sendError, sendValidation } from './replies.ts';
import { zodIssuesToFieldIssues } from './request-parsing.ts';

export interface OperatorRouteDeps {
  readonly ledger: LedgerStore;
  readonly orderDeps: OrderDeps & CatalogDeps;
  readonly providerNames: readonly string[];
  readonly requireClient: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const security = [{ bearer: [] }];

const resolveBody = z
  .object({
    status: z.enum(['success', 'failed'], { error: 'must be success or failed' }),
    reason: z
      .string({ error: 'is required: why you decided so' })
      .trim()
      .min(3, 'must say why, in at least 3 characters')
      .max(500, 'must be at most 500 characters'),
    clientId: z.string().max(64).optional(),
    providerOrderId: z
      .string({ error: 'must be a string' })
      .max(64, 'must be at most 64 characters')
      .optional(),
  })
  .strict();

const reverseBody = z
  .object({
    reason: z
      .string({ error: "is required: why you record this reversal (e.g. the provider's reference)" })
      .trim()
      .min(3, 'must say why, in at least 3 characters')
      .max(500, 'must be at most 500 characters'),
    clientId: z.string().max(64).optional(),
    callbackId: z
      .string()
      .regex(
        /^[a-f0-9]{64}$/,
        'must be the id of a stored callback (64 hex characters, see GET /v1/callbacks)',
      )
      .optional(),
  })
  .strict();

/** A window end: the ledger counts time from 1970 (the Unix epoch), so nothing lies before it. */
const windowTime = (example: string) =>
  z.iso
    .datetime({ offset: true, error: `must be an ISO time such as ${example}` })
    .refine((time) => Date.parse(time) >= 0, 'must be 1970-01-01T00:00:00Z or later');

const DAY_MS = 86_400_000;

/** The current day (UTC): [today 00:00Z, tomorrow 00:00Z), the window when from/to are not given. */
function today(now = Date.now()): { from: string; to: string } {
  const start = Math.floor(now / DAY_MS) * DAY_MS;
  return { from: new Date(start).toISOString(), to: new Date(start + DAY_MS).toISOString() };
}

const windowQuery = z
  .object({
    from: windowTime('2026-11-01T00:00:00Z').optional(),
    to: windowTime('2026-11-02T00:00:00Z').optional(),
  })
  .strict()
  .transform((q) => ({ from: q.from ?? today().from, to: q.to ?? today().to }))
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: 'from must be before to', path: ['to'] });

const limitQuery = z.coerce
  .number({ error: 'must be a number' })
  .int()
  .min(1, 'must be at least 1')
  .max(1_000, 'must be at most 1000')
  .default(100);

/** Routes for keys with the `operator` role: the manual-review queue, decisions, callbacks, reconciliation. */
export function registerOperatorRoutes(app: FastifyInstance, deps: OperatorRouteDeps): void {
  const requireOperator = async (request: FastifyRequest, reply: FastifyReply) => {
    await deps.requireClient(request, reply);
    if (reply.sent) return;
    if (request.principal?.role !== 'operator') {
      return sendError(reply, 403, 'forbidden', 'this needs an API key with the operator role');
    }
  };

  app.post(
    '/v1/recharges/:orderId/resolve',
    {
      preHandler: requireOperator,
      schema: {
        summary:
          'Operator decision on an order in manual_review, or the correction of a failed order the provider did charge (status success); recorded with who and why',
        security,
        body: {
          type: 'object',
          required: ['status', 'reason'],
          properties: {
            status: { type: 'string', enum: ['success', 'failed'] },
            reason: { type: 'string' },
            clientId: { type: 'string', description: "the order's client; default: the operator's own" },
            providerOrderId: {
              type: 'string',
              description:
                'for success: the attempt (orderid) the provider charged; required when the order was tried at more than one provider',
            },
          },
        },
        response: { 200: orderDoc, 400: errorDoc, 403: errorDoc, 404: errorDoc, 409: errorDoc },
      },
    },
    async (request, reply) => {
      const { orderId } = request.params as { orderId: string };
      const body = resolveBody.safeParse(request.body ?? {});
      if (!body.success) return sendValidation(reply, zodIssuesToFieldIssues(body.error));
      const principal = request.principal!;
      const key = { clientId: body.data.clientId ?? principal.clientId, orderId };
      const outcome = await resolveOrder(deps.orderDeps, key, {
        status: body.data.status,
        reason: body.data.reason,
        actor: `${principal.clientId} (operator)`,
        providerOrderId: body.data.providerOrderId,
      });
      switch (outcome.kind) {
        case 'resolved':
          return reply.send(toOrderView(outcome.order));
        case 'not_found':
          return sendError(reply, 404, 'order_not_found', `no order ${orderId} for client ${key.clientId}`);
        case 'not_in_review':
          return sendError(
            reply,
            409,
            'not_in_manual_review',
            `order ${orderId} is ${outcome.order.state}: an operator decides orders in manual_review, and corrects a failed order to success (a charge the provider confirms); nothing else`,
          );
        case 'call_in_flight':
          return sendError(
            reply,
            409,
            'call_in_flight',
            `a call to ${outcome.order.provider} for ${outcome.order.providerOrderId} may still be running: wait for its answer (it lands in the history) or PROCESSING_STUCK_AFTER_MS, then decide`,
          );
        case 'attempt_needed':
          return sendError(
            reply,
            409,
            'attempt_needed',
            `order ${orderId} was tried as ${outcome.attempts.join(', ')}: name the one the provider charged as providerOrderId`,
          );
      }
    },
  );

  app.post(
    '/v1/recharges/:orderId/reverse',
    {
      preHandler: requireOperator,
      schema: {
        summary:
          'Operator records a dispute reversal of a success order (e.g. a reversal_not_confirmed callback the operator checked), with who and why',
        security,
        body: {
          type: 'object',
          required: ['reason'],
          properties: {
            reason: { type: 'string' },
            clientId: { type: 'string', description: "the order's client; default: the operator's own" },
            callbackId: { type: 'string', description: 'the stored Failure callback this reversal applies' },
          },
        },
        response: { 200: orderDoc, 400: errorDoc, 403: errorDoc, 404: errorDoc, 409: errorDoc },
      },
    },
    async (request, reply) => {
      const { orderId } = request.params as { orderId: string };
      const body = reverseBody.safeParse(request.body ?? {});
      if (!body.success) return sendValidation(reply, zodIssuesToFieldIssues(body.error));
      const principal = request.principal!;
      const key = { clientId: body.data.clientId ?? principal.clientId, orderId };
      const outcome = await reverseOrder(deps.orderDeps, key, {
        reason: body.data.reason,
        actor: `${principal.clientId} (operator)`,
        callbackId: body.data.callbackId,
      });
      switch (outcome.kind) {
        case 'reversed':
          return reply.send(toOrderView(outcome.order));
        case 'not_found':
          return sendError(reply, 404, 'order_not_found', `no order ${orderId} for client ${key.clientId}`);
        case 'callback_not_found':
          return sendError(reply, 404, 'callback_not_found', `no stored callback ${body.data.callbackId}`);
        case 'callback_mismatch':
          return sendError(reply, 409, 'callback_mismatch', outcome.reason);
        case 'not_success':
          return sendError(
            reply,
            409,
            'not_success',
            `order ${orderId} is ${outcome.order.state}; only a success order can be reversed`,
          );
        default:
          return assertNever(outcome);
      }
    },
  );

  app.get(
    '/v1/manual-review',
    {
      preHandler: requireOperator,
      config: { query: ['limit'] },
      schema: { summary: 'Orders of every client waiting for an operator, oldest first', security },
    },
    async (request, reply) => {
      const limit = limitQuery.safeParse((request.query as { limit?: unknown }).limit);
      if (!limit.success)
        return sendValidation(reply, [
          { field: 'limit', rule: 'limit', message: limit.error.issues[0]?.message ?? 'is invalid' },
        ]);
      const orders = await deps.ledger.findStale(
        'manual_review',
        new Date(Date.now() + 1_000).toISOString(),
        limit.data,
      );
      return reply.send({ orders: orders.map((o) => ({ clientId: o.clientId, ...toOrderView(o) })) });
    },
  );

  app.get(
    '/v1/callbacks',
    {
      preHandler: requireOperator,
      config: { query: ['outcome', 'limit'] },
      schema: {
        summary:
          'Stored provider callbacks, oldest change first: every outcome, or only those of `outcome` (e.g. unknown_order)',
        security,
        querystring: {
          type: 'object',
          properties: {
            outcome: { type: 'string', enum: [...CALLBACK_OUTCOMES], description: 'default: every outcome' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { callbacks: { type: 'array', items: { type: 'object' } } },
          },
          400: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const query = request.query as { outcome?: string; limit?: unknown };
      const outcome = query.outcome;
      const limit = limitQuery.safeParse(query.limit);
      const issues = [];
      if (outcome !== undefined && !(CALLBACK_OUTCOMES as readonly string[]).includes(outcome)) {
        issues.push({
          field: 'outcome',
          rule: 'enum',
          message: `must be one of ${CALLBACK_OUTCOMES.join(', ')}`,
        });
      }
      if (!limit.success)
        issues.push({
          field: 'limit',
          rule: 'limit',
          message: limit.error.issues[0]?.message ?? 'is invalid',
        });
      if (issues.length > 0 || !limit.success) return sendValidation(reply, issues);
      const before = new Date(Date.now() + 1_000).toISOString();
      const outcomes = outcome === undefined ? CALLBACK_OUTCOMES : [outcome as CallbackOutcome];
      // Each outcome's oldest `limit`, merged: the oldest `limit` of them all.
      const found = await Promise.all(outcomes.map((o) => deps.ledger.findCallbacks(o, before, limit.data)));
      const callbacks = found
        .flat()
        .sort((a, b) =>
          a.updatedAt === b.updatedAt ? (a.id < b.id ? -1 : 1) : a.updatedAt < b.updatedAt ? -1 : 1,
        )
        .slice(0, limit.data);
      return reply.send({ callbacks });
    },
  );

  app.get(
    '/v1/reconciliation',
    {
      preHandler: requireOperator,
      schema: {
        summary:
          "Per provider: orders created in [from, to) by state, the provider balance at both ends, its drop next to the ledger's net spend (success − reversed) and their difference; default window: the current day (UTC)",
        security,
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', format: 'date-time', description: 'default: today 00:00Z' },
            to: { type: 'string', format: 'date-time', description: 'default: tomorrow 00:00Z' },
          },
        },
        response: { 200: reconciliationDoc, 400: errorDoc },
      },
    },
    async (request, reply) => {
      const query = windowQuery.safeParse(request.query);
      if (!query.success) return sendValidation(reply, zodIssuesToFieldIssues(query.error));
      const from = new Date(query.data.from).toISOString();
      const to = new Date(query.data.to).toISOString();
      const report = await reconcile(deps.ledger, from, to, deps.providerNames);
      return reply.send({
        from: report.from,
        to: report.to,
        providers: report.providers.map((p) => ({
          provider: p.provider,
          submitted: money(p.submitted),
          success: money(p.success),
          failed: money(p.failed),
          reversed: money(p.reversed),
          pending: money(p.pending),
          inProgress: money(p.inProgress),
          balanceAtStart: p.balanceAtStart
            ? { balance: p.balanceAtStart.balance / 100, at: p.balanceAtStart.at }
            : null,
          balanceAtEnd: p.balanceAtEnd
            ? { balance: p.balanceAtEnd.balance / 100, at: p.balanceAtEnd.at }
            : null,
          balanceDrop: p.balanceDrop === null ? null : p.balanceDrop / 100,
          netSpend: p.netSpend / 100,
          difference: p.difference === null ? null : p.difference / 100,
        })),
      });
    },
  );
}

const amountCount = {
  type: 'object',
  properties: { count: { type: 'integer' }, amount: { type: 'number' } },
} as const;
const balanceSample = {
  type: ['object', 'null'],
  properties: { balance: { type: 'number' }, at: { type: 'string', format: 'date-time' } },
} as const;

const reconciliationDoc = {
  type: 'object',
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    providers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          provider: { type: 'string' },
          submitted: amountCount,
          success: amountCount,
          failed: amountCount,
          reversed: amountCount,
          pending: amountCount,
          inProgress: amountCount,
          balanceAtStart: balanceSample,
          balanceAtEnd: balanceSample,
          balanceDrop: {
            type: ['number', 'null'],
            description: 'balance at start − balance at end (₹); null without both samples',
          },
          netSpend: { type: 'number', description: "the ledger's net spend: success − reversed amount (₹)" },
          difference: {
            type: ['number', 'null'],
            description:
              'balanceDrop − netSpend (₹): 0 when they match; else orders of other windows settling, top-ups, or a discrepancy',
          },
        },
      },
    },
  },
} as const;

/** Amounts leave the API in rupees, like everywhere else in it. */
function money(value: { count: number; amount: number }) {
  return { count: value.count, amount: value.amount / 100 };
}
