import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import {
  BATCH_VIEW_STATES,
  batchView,
  DEFAULT_UPLOAD_LEASE_MS,
  storeUpload,
  UploadLimitError,
  writeResultsCsv,
} from '@rechargeflow/batches';
import { maskCardNumbers } from '@rechargeflow/domain';
import { type LedgerStore, UploadLeaseExpiredError } from '@rechargeflow/ledger';
import { batchJobId, type JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BATCH_CSV_EXAMPLE, errorDoc } from './openapi.ts';
import { sendError, sendValidation } from './replies.ts';
import { asBodyError, clientBody } from './request-errors.ts';

export interface BatchLimits {
  /** Largest upload in bytes (413 above). */
  readonly maxBytes: number;
  /** Most data rows in one upload (413 above). */
  readonly maxRows: number;
  /** Longest row in bytes. */
  readonly maxRowBytes: number;
  /** Batches one client may have importing at once (429 above). */
  readonly maxImportingPerClient: number;
  /**
   * Bytes one client may have stored but not yet imported: uploads in progress plus batches
   * stored or importing (429 above). Default: twice maxBytes.
   */
  readonly maxPendingBytesPerClient?: number | undefined;
  /** How long an upload's chunks live after its latest chunk unless its batch is created (ms). */
  readonly uploadLeaseMs?: number | undefined;
}

/** What each refused upload answers: status and error code. */
const UPLOAD_REFUSALS = {
  empty: { status: 400, error: 'empty_upload' },
  bytes: { status: 413, error: 'upload_too_large' },
  rows: { status: 413, error: 'upload_too_large' },
  row_length: { status: 413, error: 'upload_too_large' },
  pending_bytes: { status: 429, error: 'upload_quota_exceeded' },
} as const;

export interface BatchRouteDeps {
  readonly ledger: LedgerStore;
  readonly producer: JobProducer;
  readonly limits: BatchLimits;
  readonly requireClient: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const security = [{ bearer: [] }];

/** A batch as the routes show it (batchView). */
const batchDoc = {
  type: 'object',
  properties: {
    batchId: { type: 'string' },
    state: {
      type: 'string',
      enum: [...BATCH_VIEW_STATES],
      description:
        'stored → importing → imported → done (no order still moving); stopped: reading the file stopped early (stoppedReason, stoppedAtLine), final, never done',
    },
    filename: { type: ['string', 'null'] },
    bytes: { type: 'integer' },
    rows: {
      type: 'object',
      properties: {
        read: { type: 'integer' },
        accepted: { type: 'integer' },
        rejected: { type: 'integer' },
        notRead: { type: 'integer', description: 'rows after the place reading stopped (status not_read)' },
        released: {
          type: 'integer',
          description:
            "rows whose orders have been handed to the queue; a big batch's orders wait in the ledger, queued, until the provider queues have room",
        },
      },
    },
    orders: {
      type: 'object',
      description: 'the batch orders by state',
      additionalProperties: { type: 'integer' },
    },
    settled: {
      type: 'boolean',
      description: 'the import has ended (done or stopped) and no order of the batch is still moving',
    },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    stoppedReason: { type: ['string', 'null'], description: 'why reading stopped' },
    stoppedAtLine: {
      type: ['integer', 'null'],
      description: 'the line of the file (the header is line 1) where reading stopped',
    },
    error: { type: ['string', 'null'], description: 'the same as stoppedReason' },
  },
  additionalProperties: true,
} as const;

/** The upload's name as stored with the batch and shown back: bounded, never a card number. */
const fileName = (name: string) => maskCardNumbers(name).slice(0, 200);

const listQuery = z
  .object({
    limit: z.coerce
      .number({ error: 'must be a number' })
      .int()
      .min(1, 'must be at least 1')
      .max(100, 'must be at most 100')
      .default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/**
 * CSV batches: the upload is stored durably (and deduplicated by content) before the 202, then a
 * BullMQ job imports it; a lost job is re-added by the poller's sweep.
 */
export async function registerBatchRoutes(app: FastifyInstance, deps: BatchRouteDeps): Promise<void> {
  // The body is streamed into the ledger, never buffered whole; limits are enforced while storing.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_request, payload, done) => done(null, payload));
  await app.register(multipart, { limits: { files: 1, fileSize: deps.limits.maxBytes, fields: 5 } });

  app.post(
    '/v1/batches',
    {
      preHandler: deps.requireClient,
      bodyLimit: deps.limits.maxBytes,
      schema: {
        summary:
          'Upload a CSV batch (text/csv body or multipart file); 202 new batch, 200 the same file again',
        security,
        consumes: ['text/csv', 'application/csv', 'multipart/form-data'],
        body: {
          type: 'string',
          description:
            'the CSV (header row: orderId,operator,circle,number,amount,value1,value2; circle, value1, value2 optional), or a multipart/form-data body with it as the file field; X-Filename names a text/csv upload',
          examples: [BATCH_CSV_EXAMPLE],
        },
        response: {
          200: { ...batchDoc, description: 'the same file again: the existing batch, nothing new created' },
          202: { ...batchDoc, description: 'new batch, stored; its import is queued' },
          400: errorDoc,
          408: errorDoc,
          413: errorDoc,
          415: errorDoc,
          429: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const clientId = request.principal!.clientId;
      let source: Readable;
      let filename: string | undefined;
      if (request.isMultipart()) {
        // A malformed multipart body is the client's (400), not ours.
        const file = await request.file().catch((error: unknown) => {
          throw asBodyError(error);
        });
        if (!file)
          return sendValidation(reply, [
            { field: 'file', rule: 'required', message: 'send the CSV as a multipart file field' },
          ]);
        source = clientBody(file.file);
        filename = fileName(file.filename);
      } else if (request.body && typeof (request.body as Readable).pipe === 'function') {
        source = clientBody(request.body as Readable);
        const header = request.headers['x-filename'];
        filename = typeof header === 'string' ? fileName(header) : undefined;
      } else {
        return sendError(
          reply,
          415,
          'unsupported_media_type',
          'send the CSV as text/csv, or as a multipart/form-data file',
        );
      }

      const recent = await deps.ledger.listBatches(clientId, { limit: 100 });
      const importing = recent.batches.filter((b) => b.state === 'stored' || b.state === 'importing').length;
      if (importing >= deps.limits.maxImportingPerClient) {
        source.resume();
        return sendError(
          reply,
          429,
          'too_many_imports',
          `you have ${importing} batches importing; at most ${deps.limits.maxImportingPerClient} may import at once — wait for one to finish`,
        );
      }
      let stored: Awaited<ReturnType<typeof storeUpload>>;
      try {
        stored = await storeUpload({
          ledger: deps.ledger,
          clientId,
          source,
          filename,
          limits: {
            maxBytes: deps.limits.maxBytes,
            maxRows: deps.limits.maxRows,
            maxRowBytes: deps.limits.maxRowBytes,
            maxPendingBytes: deps.limits.maxPendingBytesPerClient ?? 2 * deps.limits.maxBytes,
          },
          leaseMs: deps.limits.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS,
          now: () => new Date(),
          onDiscardFailed: (discardError) =>
            request.log.warn(
              { err: String(discardError) },
              'a refused upload could not be removed now; its lease removes it',
            ),
        });
      } catch (error) {
        if (error instanceof UploadLimitError) {
          source.resume();
          const refusal = UPLOAD_REFUSALS[error.limit];
          return sendError(reply, refusal.status, refusal.error, error.message);
        }
        if (error instanceof UploadLeaseExpiredError) {
          source.resume();
          return sendError(
            reply,
            408,
            'upload_too_slow',
            'the upload stalled for longer than an upload may wait between two megabytes, and what had arrived was dropped; send the file again',
          );
        }
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 413)
          return sendError(
            reply,
            413,
            'upload_too_large',
            `the file is larger than the limit of ${deps.limits.maxBytes} bytes`,
          );
        throw error;
      }
      if (stored.created) {
        try {
          await deps.producer.enqueue(
            'batch.import',
            { clientId, batchId: stored.batch.batchId },
            batchJobId(stored.batch.batchId),
          );
        } catch (error) {
          // Stored: the poller's sweep adds the import job for batches left `stored`.
          request.log.warn(
            { batchId: stored.batch.batchId, err: String(error) },
            'batch stored; its import job could not be added yet',
          );
        }
      }
      return reply.code(stored.created ? 202 : 200).send(await batchView(deps.ledger, stored.batch));
    },
  );

  app.get(
    '/v1/batches',
    {
      preHandler: deps.requireClient,
      schema: {
        summary: "The client's batches, newest first",
        security,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            cursor: { type: 'string' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              batches: { type: 'array', items: batchDoc },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const query = listQuery.safeParse(request.query);
      if (!query.success) {
        return sendValidation(
          reply,
          query.error.issues.map((i) => ({
            field: i.path.join('.') || '(query)',
            rule: i.code,
            message: i.message,
          })),
        );
      }
      const page = await deps.ledger.listBatches(request.principal!.clientId, query.data);
      return reply.send({
        batches: await Promise.all(page.batches.map((b) => batchView(deps.ledger, b))),
        nextCursor: page.nextCursor ?? null,
      });
    },
  );

  app.get(
    '/v1/batches/:batchId',
    {
      preHandler: deps.requireClient,
      schema: {
        summary: 'A batch: state, row counts, its orders by state',
        security,
        response: { 200: batchDoc, 404: errorDoc },
      },
    },
    async (request, reply) => {
      const { batchId } = request.params as { batchId: string };
      const batch = await deps.ledger.getBatch(request.principal!.clientId, batchId);
      if (!batch) return sendError(reply, 404, 'batch_not_found', `no batch ${batchId} for this client`);
      return reply.send(await batchView(deps.ledger, batch));
    },
  );

  app.get(
    '/v1/batches/:batchId/results.csv',
    {
      preHandler: deps.requireClient,
      schema: {
        summary:
          'One line per input row, in input order: the input, the order state (rejected, not_read for rows after a break), provider reference, error, reason',
        security,
        response: {
          200: {
            description: 'the results, one line per input row',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
          404: errorDoc,
          409: errorDoc,
        },
      },
    },
    async (request, reply) => {
      const { batchId } = request.params as { batchId: string };
      const clientId = request.principal!.clientId;
      const batch = await deps.ledger.getBatch(clientId, batchId);
      if (!batch) return sendError(reply, 404, 'batch_not_found', `no batch ${batchId} for this client`);
      if (batch.state === 'stored' || batch.state === 'importing') {
        return sendError(
          reply,
          409,
          'batch_not_imported',
          `batch ${batchId} is still ${batch.state}; results are ready once it is imported`,
        );
      }
      reply.header('content-type', 'text/csv; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="${batchId}-results.csv"`);
      return reply.send(Readable.from(writeResultsCsv({ ledger: deps.ledger, clientId, batchId, batch })));
    },
  );
}
