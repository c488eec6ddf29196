import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReplyPlan } from '../engine.ts';
import { telgoo5InvalidateSchema, telgoo5ScriptSchema } from './config.ts';
import type { Telgoo5Engine } from './engine.ts';

export type Perform = (
  plan: ReplyPlan,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply>;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * `/telgoo5/authenticate` and `/telgoo5/topup`, in their own scope: bodies are read as raw text
 * (any content type, bounded), so a body that is not JSON is refused the Telgoo5 way, with an
 * envelope, rather than by Fastify.
 */
export function registerTelgoo5Routes(
  app: FastifyInstance,
  engine: Telgoo5Engine,
  tokenHeader: string,
  perform: Perform,
): void {
  void app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
        done(null, body);
      });
      const text = (request: FastifyRequest) => (typeof request.body === 'string' ? request.body : undefined);
      scope.route({
        method: [...METHODS],
        url: '/authenticate',
        handler: (request, reply) =>
          perform(engine.authenticate(request.method, text(request)), request, reply),
      });
      scope.route({
        method: [...METHODS],
        url: '/topup',
        handler: (request, reply) => {
          const header = request.headers[tokenHeader];
          const token = Array.isArray(header) ? header[0] : header;
          return perform(engine.topup(request.method, token, text(request)), request, reply);
        },
      });
    },
    { prefix: '/telgoo5' },
  );

  app.post('/_sim/telgoo5/script', async (request, reply) => {
    const parsed = telgoo5ScriptSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
    engine.script(parsed.data);
    return reply.code(201).send({ ok: true, script: parsed.data });
  });

  app.get('/_sim/telgoo5/stats', async () => engine.stats());

  app.get<{ Querystring: { mdn?: string } }>('/_sim/telgoo5/topups', async (request) => {
    const mdn =
      typeof request.query.mdn === 'string' && request.query.mdn !== '' ? request.query.mdn : undefined;
    const topups = engine.topups(mdn);
    return {
      ...(mdn !== undefined ? { mdn, applied: engine.count(mdn) } : {}),
      count: topups.length,
      topups,
    };
  });

  app.get('/_sim/telgoo5/requests', async () => ({ requests: engine.requests() }));

  app.post('/_sim/telgoo5/tokens/invalidate', async (request, reply) => {
    const parsed = telgoo5InvalidateSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
    return {
      invalidated: engine.invalidateTokens(parsed.data.as ?? 'invalid'),
      as: parsed.data.as ?? 'invalid',
    };
  });
}
