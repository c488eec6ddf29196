import type { FieldIssue } from '@rechargeflow/domain';
import type { FastifyReply } from 'fastify';

export function sendError(
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  issues?: readonly FieldIssue[],
) {
  return reply.code(status).send(issues ? { error, message, issues } : { error, message });
}

export function sendValidation(reply: FastifyReply, issues: readonly FieldIssue[]) {
  return reply.code(400).send({
    error: 'validation_failed',
    message: `invalid request: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
    issues,
  });
}
