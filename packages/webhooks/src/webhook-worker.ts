import {
  createJobConsumer,
  type JobObserver,
  type JobProducer,
  type QueueConnection,
} from '@rechargeflow/queue';
import { type DeliveryStore, deliverWebhook, type WebhookLog, type WebhookObserver } from './deliver.ts';
import { type DispatchStore, startDispatcher } from './dispatcher.ts';
import { createWebhookSender } from './sender.ts';

export interface WebhookWorkerSettings {
  /** WEBHOOK_SIGNING_SECRET; unset: deliveries are created and queued, but this process sends none. */
  readonly signingKey?: string | undefined;
  readonly allowPrivate: boolean;
  readonly retryForMs: number;
  readonly retryFirstMs: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** BullMQ key prefix (QUEUE_PREFIX). */
  readonly prefix: string;
}

export interface WebhookWorkerDeps {
  readonly redis: QueueConnection;
  readonly store: DeliveryStore & DispatchStore;
  readonly producer: JobProducer;
  readonly log: WebhookLog & { error(fields: Record<string, unknown>, message: string): void };
  readonly observer?: WebhookObserver | undefined;
  readonly jobObserver?: JobObserver | undefined;
}

export interface WebhookWorker {
  /** The `webhooks` queue's consumer (absent without a signing key); drained with the other workers. */
  readonly consumer: ReturnType<typeof createJobConsumer> | undefined;
  /** Stops the dispatcher loop and closes the sender's connections; call after draining the consumer. */
  close(): Promise<void>;
}

/**
 * The webhook side of a worker process: the outbox dispatcher loop (always: the outbox must drain
 * even where nobody registered an endpoint) and, with a signing key, the consumer that sends the
 * deliveries. Every worker replica runs both; ids make them idempotent.
 */
export function startWebhookWorker(deps: WebhookWorkerDeps, settings: WebhookWorkerSettings): WebhookWorker {
  const dispatchDeps = {
    store: deps.store,
    producer: deps.producer,
    log: deps.log,
    observer: deps.observer,
  };
  const dispatcher = startDispatcher(dispatchDeps);
  const sender = createWebhookSender({ timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivate });
  const signingKey = settings.signingKey;
  // Info, not a warning: a deployment without webhooks has no endpoints, so nothing waits.
  if (!signingKey)
    deps.log.info(
      {},
      'webhooks off in this worker (no WEBHOOK_SIGNING_SECRET): deliveries are queued, not sent',
    );
  const consumer = signingKey
    ? createJobConsumer(
        'webhooks',
        {
          'webhook.deliver': async ({ deliveryId }) => {
            await deliverWebhook(
              {
                store: deps.store,
                sender,
                signingKey,
                retryForMs: settings.retryForMs,
                retryFirstMs: settings.retryFirstMs,
                log: deps.log,
                observer: deps.observer,
              },
              deliveryId,
            );
          },
        },
        deps.redis,
        {
          prefix: settings.prefix,
          concurrency: settings.concurrency,
          // An attempt takes at most WEBHOOK_TIMEOUT_MS; the lock outlives it comfortably.
          lockDurationMs: Math.max(30_000, settings.timeoutMs * 3),
          observer: deps.jobObserver,
          onError: (error) => deps.log.error({ err: error.message }, 'webhook consumer error'),
          onFailed: (jobId, error) => deps.log.warn({ jobId, err: error.message }, 'webhook job failed'),
          // Its delivery stays pending without a job until the poller's sweep queues it again.
          onGaveUp: (jobId, error) => {
            deps.observer?.jobFailed?.();
            deps.log.error(
              { jobId, err: error.message },
              'webhook job failed for good; the poller queues its delivery again',
            );
          },
        },
      )
    : undefined;
  return {
    consumer,
    async close() {
      await dispatcher.stop();
      await sender.close();
    },
  };
}
