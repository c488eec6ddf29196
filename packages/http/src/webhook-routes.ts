import type { FieldIssue } from '@rechargeflow/domain';
import {
  WEBHOOK_EVENT_TYPES,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
  type WebhookStore,
} from '@rechargeflow/ledger';
import type { JobProducer } from '@rechargeflow/queue';
import {
  destinationRefusal,
  endpointSecret,
  enqueueDeliveryNow,
  newEndpointId,
  urlIssues,
} from '@rechargeflow/webhooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { errorDoc } from './openapi.ts';
import { sendError, sendValidation } from './replies.ts';
import { zodIssuesToFieldIssues } from './request-parsing.ts';

/** The webhook settings of the API (WEBHOOK_* variables). */
export interface WebhookSettings {
  /** WEBHOOK_SIGNING_SECRET: endpoint secrets are derived from it; unset, registration answers 503. */
  readonly signingKey?: string | undefined;
  /** WEBHOOK_ALLOW_PRIVATE: accept destinations on loopback and private addresses. */
  readonly allowPrivate: boolean;
  /** WEBHOOK_MAX_ENDPOINTS_PER_CLIENT. */
  readonly maxEndpointsPerClient: number;
}

export interface WebhookRouteDeps {
  readonly store: WebhookStore;
  readonly producer: Pick<JobProducer, 'queue' | 'ensureQueued'>;
  readonly settings: WebhookSettings;
  readonly requireClient: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const security = [{ bearer: [] }];
const BODY_FIELDS = ['url', 'events'];
const ENDPOINT_ID = /^we_[a-f0-9]{24}$/;
const DELIVERY_ID = /^wd_[a-f0-9]{32}$/;

const endpointProperties = {
  id: { type: 'string', examples: ['we_5f1c0b9e2a7d4c3b1a09f8e7'] },
  url: { type: 'string', format: 'uri' },
  events: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] } },
  createdAt: { type: 'string', format: 'date-time' },
} as const;

const endpointDoc = { type: 'object', properties: endpointProperties } as const;

const createdEndpointDoc = {
  type: 'object',
  description: 'the endpoint, with its signing secret: shown this once, never again',
  properties: {
    ...endpointProperties,
    secret: {
      type: 'string',
      description: 'verifies the Rechargeflow-Signature header of every delivery (docs/api.md, "Webhooks")',
    },
  },
} as const;

const deliveryDoc = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    eventId: { type: 'string', description: 'sent as Rechargeflow-Event-Id, the same on every attempt' },
    type: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
    subject: {
      type: 'object',
      description: '{kind: "order", orderId, version} or {kind: "batch", batchId}',
      additionalProperties: true,
    },
    state: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    attempts: {
      type: 'array',
      description: 'oldest first, the last 50',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string', format: 'date-time' },
          status: { type: ['integer', 'null'], description: 'HTTP status of the answer' },
          error: { type: ['string', 'null'], description: 'why there was no answer' },
          durationMs: { type: 'integer' },
          body: { type: ['string', 'null'], description: 'the first 256 bytes of the answer' },
        },
      },
    },
  },
} as const;

const notConfiguredDoc = {
  ...errorDoc,
  description: 'webhooks are not configured on this deployment (WEBHOOK_SIGNING_SECRET), or our fault',
};

function endpointView(endpoint: WebhookEndpoint) {
  return { id: endpoint.id, url: endpoint.url, events: endpoint.events, createdAt: endpoint.createdAt };
}

function deliveryView(delivery: WebhookDelivery) {
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    type: delivery.type,
    subject: delivery.subject,
    state: delivery.state,
    createdAt: delivery.createdAt,
    updatedAt: delivery.updatedAt,
    attempts: delivery.attempts.map((a) => ({
      at: a.at,
      status: a.status ?? null,
      error: a.error ?? null,
      durationMs: a.durationMs,
      body: a.body ?? null,
    })),
  };
}

/** An event type as the client wrote it, shown back only when it looks like one. */
function shownType(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,40}$/.test(value) ? `"${value}"` : 'this value';
}

/** `POST /v1/webhooks` body: every problem at once, each naming its field and rule. */
function parseEndpointBody(
  body: unknown,
): { ok: true; url: string; events: WebhookEventType[] } | { ok: false; issues: FieldIssue[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      issues: [
        { field: '(body)', rule: 'json_object', message: 'the body must be a JSON object {url, events?}' },
      ],
    };
  }
  const record = body as Record<string, unknown>;
  const issues: FieldIssue[] = Object.keys(record)
    .filter((key) => !BODY_FIELDS.includes(key))
    .map((field) => ({
      field,
      rule: 'unknown_field',
      message: `is not a webhook field (allowed: ${BODY_FIELDS.join(', ')})`,
    }));
  issues.push(...urlIssues(record.url));
  let events: WebhookEventType[] = [...WEBHOOK_EVENT_TYPES];
  if (record.events !== undefined) {
    if (!Array.isArray(record.events)) {
      issues.push({ field: 'events', rule: 'type', message: 'must be a list of event types' });
    } else if (record.events.length === 0) {
      issues.push({
        field: 'events',
        rule: 'min_items',
        message: 'must name at least one event type (leave it out for all of them)',
      });
    } else {
      record.events.forEach((value, index) => {
        if (!(WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(value))
          issues.push({
            field: `events.${index}`,
            rule: 'event_type',
            message: `${shownType(value)} is not an event type; use ${WEBHOOK_EVENT_TYPES.join(', ')}`,
          });
      });
      events = [...new Set(record.events as WebhookEventType[])];
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, url: record.url as string, events };
}

const deliveriesQuery = z
  .object({
    limit: z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(100, 'must be at most 100')
      .default(20),
    cursor: z.string().regex(DELIVERY_ID, 'is not a cursor from this API').optional(),
  })
  .strict();

/**
 * Signed webhooks (docs/api.md, "Webhooks"): a client registers endpoints, lists and deletes them,
 * reads each one's deliveries with their attempts, and resends a delivery. A client sees only its
 * own endpoints; an endpoint of another client is answered like an unknown one (404).
 */
export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): void {
  const { store, settings } = deps;
  const notFound = (reply: FastifyReply, id: string) =>
    sendError(reply, 404, 'webhook_not_found', `no webhook endpoint ${id.slice(0, 40)} for this client`);
  const ownEndpoint = async (request: FastifyRequest, id: string) =>
    ENDPOINT_ID.test(id) ? store.getEndpoint(request.principal!.clientId, id) : null;

  app.post(
    '/v1/webhooks',
    {
      preHandler: deps.requireClient,
      config: { query: [] },
      schema: {
        summary: 'Register a webhook endpoint; its signing secret is in this answer only',
        security,
        body: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string', format: 'uri', maxLength: 2048, description: 'http(s), no user info' },
            events: {
              type: 'array',
              minItems: 1,
              items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
              description: 'the event types to send; all of them when left out',
            },
          },
          additionalProperties: false,
          examples: [
            { url: 'https://shop.example/hooks/rechargeflow', events: ['order.succeeded', 'order.failed'] },
          ],
        },
        response: {
          201: createdEndpointDoc,
          400: errorDoc,
          409: {
            ...errorDoc,
            description: 'the client has as many endpoints as it may (WEBHOOK_MAX_ENDPOINTS_PER_CLIENT)',
          },
          422: {
            ...errorDoc,
            description:
              'the URL is on a loopback, private or other non-public address, or its host does not resolve',
          },
          503: notConfiguredDoc,
        },
      },
    },
    async (request, reply) => {
      const signingKey = settings.signingKey;
      if (!signingKey) {
        return sendError(
          reply,
          503,
          'webhooks_not_configured',
          'webhooks are not configured on this deployment: its operator must set WEBHOOK_SIGNING_SECRET',
        );
      }
      const parsed = parseEndpointBody(request.body);
      if (!parsed.ok) return sendValidation(reply, parsed.issues);
      const refusal = await destinationRefusal(parsed.url, settings.allowPrivate);
      if (refusal) {
        return sendError(reply, 422, 'webhook_url_refused', `url: ${refusal.message}`, [
          { field: 'url', rule: refusal.rule, message: refusal.message },
        ]);
      }
      const endpoint: WebhookEndpoint = {
        id: newEndpointId(),
        clientId: request.principal!.clientId,
        url: parsed.url,
        events: parsed.events,
        createdAt: new Date().toISOString(),
      };
      const created = await store.createEndpoint(endpoint, settings.maxEndpointsPerClient);
      if (!created) {
        return sendError(
          reply,
          409,
          'too_many_webhooks',
          `this client has ${settings.maxEndpointsPerClient} webhook endpoints, as many as it may; delete one first`,
        );
      }
      return reply
        .code(201)
        .send({ ...endpointView(created), secret: endpointSecret(signingKey, created.id) });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      preHandler: deps.requireClient,
      config: { query: [] },
      schema: {
        summary: "The client's webhook endpoints (without their secrets)",
        security,
        response: {
          200: { type: 'object', properties: { webhooks: { type: 'array', items: endpointDoc } } },
        },
      },
    },
    async (request) => ({
      webhooks: (await store.listEndpoints(request.principal!.clientId)).map(endpointView),
    }),
  );

  app.delete(
    '/v1/webhooks/:webhookId',
    {
      preHandler: deps.requireClient,
      config: { query: [] },
      schema: {
        summary: 'Delete a webhook endpoint; its pending deliveries are not sent',
        security,
        params: { type: 'object', properties: { webhookId: { type: 'string' } } },
        response: { 204: { type: 'null', description: 'deleted' }, 404: errorDoc },
      },
    },
    async (request, reply) => {
      const { webhookId } = request.params as { webhookId: string };
      const deleted =
        ENDPOINT_ID.test(webhookId) && (await store.deleteEndpoint(request.principal!.clientId, webhookId));
      if (!deleted) return notFound(reply, webhookId);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/webhooks/:webhookId/deliveries',
    {
      preHandler: deps.requireClient,
      config: { query: ['limit', 'cursor'] },
      schema: {
        summary: "An endpoint's deliveries, newest first, with every attempt and its answer",
        security,
        params: { type: 'object', properties: { webhookId: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            cursor: { type: 'string', description: 'nextCursor of the previous page' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              deliveries: { type: 'array', items: deliveryDoc },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: errorDoc,
          404: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const { webhookId } = request.params as { webhookId: string };
      const query = deliveriesQuery.safeParse(request.query);
      if (!query.success) return sendValidation(reply, zodIssuesToFieldIssues(query.error));
      const endpoint = await ownEndpoint(request, webhookId);
      if (!endpoint) return notFound(reply, webhookId);
      const page = await store.listDeliveries(endpoint.id, {
        limit: query.data.limit,
        after: query.data.cursor,
      });
      return reply.send({ deliveries: page.deliveries.map(deliveryView), nextCursor: page.next ?? null });
    },
  );

  app.post(
    '/v1/webhooks/:webhookId/deliveries/:deliveryId/retry',
    {
      preHandler: deps.requireClient,
      config: { query: [] },
      schema: {
        summary: 'Send a delivery again now (delivered, given up or waiting), with the same event id',
        security,
        params: {
          type: 'object',
          properties: { webhookId: { type: 'string' }, deliveryId: { type: 'string' } },
        },
        response: { 202: { ...deliveryDoc, description: 'reopened and queued' }, 404: errorDoc },
      },
    },
    async (request, reply) => {
      const { webhookId, deliveryId } = request.params as { webhookId: string; deliveryId: string };
      const endpoint = await ownEndpoint(request, webhookId);
      if (!endpoint) return notFound(reply, webhookId);
      const delivery = DELIVERY_ID.test(deliveryId) ? await store.getDelivery(deliveryId) : null;
      if (!delivery || delivery.endpointId !== endpoint.id || delivery.clientId !== endpoint.clientId) {
        return sendError(
          reply,
          404,
          'delivery_not_found',
          `no delivery ${deliveryId.slice(0, 40)} of webhook endpoint ${endpoint.id}`,
        );
      }
      const reopened = (await store.reopenDelivery(delivery.id)) ?? delivery;
      await enqueueDeliveryNow(deps.producer, delivery.id);
      return reply.code(202).send(deliveryView(reopened));
    },
  );
}
