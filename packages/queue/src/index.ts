export {
  assertNoEviction,
  type ConnectionRole,
  createRedisConnection,
  RedisEvictionPolicyError,
  waitForRedis,
} from './connection.ts';
export {
  type ConsumerSettings,
  createJobConsumer,
  type JobContext,
  type JobHandler,
  type JobHandlers,
} from './consumer.ts';
export {
  batchJobId,
  callbackJobId,
  JOB_CATALOGUE,
  type JobName,
  type JobPayload,
  type QueueName,
  queueNameFor,
  rechargeJobId,
} from './job-catalogue.ts';
export { JobProducer, type QueueSettings } from './producer.ts';
