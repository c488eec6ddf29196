/**
 * The poller-sweep baseline: the same status calls the poller makes, straight to the provider
 * (the A1Topup client Rechargeflow uses, no ledger, no queue), `concurrency` at a time, in its own
 * process as the poller is. One JSON argument `{ simUrl, username, password, tag, count,
 * concurrency }`: asks about the providerOrderIds of orders `<tag>-0` … `<tag>-<count-1>` of client
 * `bench`. Prints one line: `done <seconds> <JSON of answers by status>`.
 */
import { providerOrderId } from '@rechargeflow/domain';
import { createA1TopupProvider } from '@rechargeflow/providers';

interface Args {
  readonly simUrl: string;
  readonly username: string;
  readonly password: string;
  readonly tag: string;
  readonly count: number;
  readonly concurrency: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const provider = createA1TopupProvider({
  baseUrl: args.simUrl,
  username: args.username,
  password: args.password,
});
const answers: Record<string, number> = {};
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: args.concurrency }, async () => {
    while (next < args.count) {
      const id = providerOrderId({ clientId: 'bench', orderId: `${args.tag}-${next++}` }, 1);
      const status = await provider.checkStatus(id).then(
        (answer) => answer.status,
        (error: unknown) => `error: ${error instanceof Error ? error.name : String(error)}`,
      );
      answers[status] = (answers[status] ?? 0) + 1;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`done ${seconds} ${JSON.stringify(answers)}\n`);
await provider.close();
