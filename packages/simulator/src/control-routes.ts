import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  callbackRequestSchema,
  forceStatusSchema,
  reverseRequestSchema,
  runtimeConfigPatchSchema,
  scriptSchema,
} from './config.ts';
import type { Engine } from './engine.ts';
import { SimulatorError } from './errors.ts';

function invalid(error: z.ZodError): { error: string } {
  return { error: z.prettifyError(error) };
}

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof SimulatorError) return reply.code(error.statusCode).send({ error: error.message });
  throw error;
}

/** `/_sim/*`: scripting, inspection and run-time knobs. Test fixture only: no authentication. */
export function registerControlRoutes(app: FastifyInstance, engine: Engine, reset: () => void): void {
  app.post('/_sim/script', async (request, reply) => {
    const parsed = scriptSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(invalid(parsed.error));
    engine.script(parsed.data);
    return reply.code(201).send({ ok: true, script: parsed.data });
  });

  // The provider's books: every order received, oldest first, with what it charged.
  app.get('/_sim/orders', async () => {
    const orders = engine.books();
    return { count: orders.length, charged: orders.filter((o) => o.charged).length, orders };
  });

  app.get<{ Params: { orderid: string } }>('/_sim/orders/:orderid', async (request, reply) => {
    const order = engine.order(request.params.orderid);
    if (!order) return reply.code(404).send({ error: 'no such order' });
    return order;
  });

  app.get('/_sim/stats', async () => engine.stats());
  app.get('/_sim/requests', async () => ({ requests: engine.requests() }));
  app.get('/_sim/config', async () => engine.config());

  app.post('/_sim/config', async (request, reply) => {
    const parsed = runtimeConfigPatchSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(invalid(parsed.error));
    try {
      return engine.configure(parsed.data);
    } catch (error) {
      if (error instanceof z.ZodError) return reply.code(400).send(invalid(error));
      throw error;
    }
  });

  // Resets every part of the simulator (A1Topup and Telgoo5).
  app.post('/_sim/reset', async () => {
    reset();
    return { ok: true };
  });

  app.post<{ Params: { orderid: string } }>('/_sim/settle/:orderid', async (request, reply) => {
    const result = engine.settle(request.params.orderid);
    if (result === undefined) return reply.code(404).send({ error: 'no such order' });
    if (result === false)
      return reply.code(409).send({ error: 'nothing to settle: the order is already final' });
    return result;
  });

  app.post('/_sim/callbacks', async (request, reply) => {
    const parsed = callbackRequestSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(invalid(parsed.error));
    try {
      return await engine.sendCallbacks(parsed.data);
    } catch (error) {
      return refused(reply, error);
    }
  });

  app.post<{ Params: { orderid: string } }>('/_sim/reverse/:orderid', async (request, reply) => {
    const parsed = reverseRequestSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(invalid(parsed.error));
    try {
      return await engine.reverse(request.params.orderid, parsed.data);
    } catch (error) {
      return refused(reply, error);
    }
  });

  app.post<{ Params: { orderid: string } }>('/_sim/status/:orderid', async (request, reply) => {
    const parsed = forceStatusSchema.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send(invalid(parsed.error));
    try {
      return engine.forceStatus(request.params.orderid, parsed.data.status);
    } catch (error) {
      return refused(reply, error);
    }
  });
}
