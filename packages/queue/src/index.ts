export {
  assertNoEviction,
  type ConnectionRole,
  createRedisConnection,
  RedisEvictionPolicyError,
  waitForRedis,
} from './connection.ts';
export { type ConsumerSettings, createJobConsumer, type JobContext, type JobHandler } from './consumer.ts';
export {
  JOB_CATALOGUE,
  type JobName,
  type JobPayload,
  type QueueName,
  rechargeJobId,
} from './job-catalogue.ts';
export { JobProducer, type QueueSettings } from './producer.ts';
