import { isCluster, type QueueConnection } from './connection.ts';

/**
 * The BullMQ key prefix of one queue. BullMQ's Lua scripts touch several keys of a queue at once,
 * which a Redis Cluster allows only within one hash slot: on a cluster the prefix ends in the queue's
 * name as a hash tag (`rf:{recharges-a1topup}`, keys `rf:{recharges-a1topup}:recharges-a1topup:wait`
 * …), so every key of a queue shares the slot of its name and different queues hash apart, over the
 * masters (BullMQ's advice: one hash-tag prefix per queue). On one Redis it is QUEUE_PREFIX as it
 * always was, so an existing deployment keeps its keys.
 */
export function bullPrefix(prefix: string, queueName: string, connection: QueueConnection): string {
  return isCluster(connection) ? `${prefix}:{${queueName}}` : prefix;
}
