import { Schema } from 'mongoose';
import { modelOptions, type WriteConcernOption } from '../mongo/mongo-support.ts';

/**
 * Batches: `_id` is the batchId. The per-client content-hash index is the dedupe: a second upload
 * of the same file fails its insert and finds the first batch. Besides the Batch fields it keeps
 * `listKey` (created ms + batchId: list order and cursor) and `updatedAtMs` (findBatches).
 */
export const BATCH_INDEXES = [
  { name: 'client_content_unique', key: { clientId: 1, contentHash: 1 }, unique: true },
  { name: 'client_batch_unique', key: { clientId: 1, batchId: 1 }, unique: true },
  { name: 'client_list', key: { clientId: 1, listKey: -1 }, unique: false },
  { name: 'state_updated', key: { state: 1, updatedAtMs: 1, _id: 1 }, unique: false },
  // pendingUploadBytes: a client's batches not yet imported.
  { name: 'client_state', key: { clientId: 1, state: 1 }, unique: false },
] as const;

export function batchSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      _id: { type: String, required: true },
      clientId: { type: String, required: true },
      batchId: { type: String, required: true },
      contentHash: { type: String, required: true },
      bytes: { type: Number, required: true },
      filename: { type: String },
      createdAt: { type: String, required: true },
      state: { type: String, required: true },
      rowsRead: { type: Number, required: true },
      accepted: { type: Number, required: true },
      rejected: { type: Number, required: true },
      rowsCommitted: { type: Number, required: true },
      // Absent on batches stored before it existed (read as 0).
      rowsReleased: { type: Number },
      error: { type: String },
      stoppedAtLine: { type: Number },
      rowsNotRead: { type: Number },
      updatedAt: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
      listKey: { type: String, required: true },
    },
    modelOptions(writeConcern),
  );
  for (const index of BATCH_INDEXES) {
    schema.index(index.key, index.unique ? { name: index.name, unique: true } : { name: index.name });
  }
  return schema;
}

/**
 * Row results, one immutable document per commit attempt that got as far as writing, unique per
 * (batchId, firstRow): the rows as JSON text (column names are data, never field names), their
 * count, accepted and rejected counts, and a digest of the JSON. See commitRows.
 */
export const ROW_INDEXES = [
  { name: 'batch_first_row_unique', key: { batchId: 1, firstRow: 1 }, unique: true },
] as const;

export function rowsSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      batchId: { type: String, required: true },
      firstRow: { type: Number, required: true },
      count: { type: Number, required: true },
      accepted: { type: Number, required: true },
      rejected: { type: Number, required: true },
      digest: { type: String, required: true },
      rows: { type: String, required: true },
    },
    modelOptions(writeConcern),
  );
  for (const index of ROW_INDEXES) schema.index(index.key, { name: index.name, unique: true });
  return schema;
}
