import { describeBatchFlow } from './batch-flow.ts';
import { MemoryLedger, MemoryProducer } from './memory-ledger.ts';

// The import logic against the BatchStore contract in memory (no Redis needed).
describeBatchFlow('the in-memory contract stand-in', async () => {
  const ledger = new MemoryLedger();
  const producer = new MemoryProducer();
  return {
    ledger,
    producer,
    jobCount: async (provider) => producer.queues.get(provider)?.size ?? 0,
    takeJobs: async (provider, count) => producer.take(provider, count),
    settle: async (key, state, providerRef, note) => ledger.setState(key, state, providerRef, note),
    cleanup: async () => undefined,
  };
});
