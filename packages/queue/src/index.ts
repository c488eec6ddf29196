export { coalesceWrites } from './coalesce-writes.ts';
export {
  type AppendFsync,
  assertNoEviction,
  type ClusterSeeds,
  type ConnectionRole,
  createClusterConnection,
  createQueueConnection,
  createRedisConnection,
  isCluster,
  type QueueConnection,
  type QueueRedisTarget,
  REDIS_KEEP_ALIVE_MS,
  REDIS_READY_CHECK,
  readAofEnabled,
  readAppendFsync,
  redisConnectionBasics,
  waitForRedis,
} from './connection.ts';
export {
  type ConsumerSettings,
  createJobConsumer,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type JobObserver,
} from './consumer.ts';
export {
  batchJobId,
  batchReleaseJobId,
  callbackJobId,
  JOB_CATALOGUE,
  type JobName,
  type JobPayload,
  type QueueName,
  queueNameFor,
  rechargeJobId,
  retrySpanMs,
} from './job-catalogue.ts';
export { JobProducer, jobOptions, type QueueSettings } from './producer.ts';
export { bullPrefix } from './queue-prefix.ts';
export { JOB_STATES, type JobState, type QueueStats, readQueueStats } from './queue-stats.ts';
export { RedisEvictionPolicyError } from './redis-eviction-policy-error.ts';
export { parseRedisMemory, type RedisMemory, readRedisMemory } from './redis-memory.ts';
