/**
 * `npm run batch -- <command>`: upload a CSV batch and follow it (docs/api.md, "From a terminal").
 *   upload <file.csv>            upload, follow it to its end (progress, why it waits), save results.csv
 *   follow <batchId>             follow a batch uploaded before, then save its results.csv
 *   status <batchId>             one look at a batch
 *   results <batchId> [out.csv]  save results.csv (to stdout without `out.csv`)
 *   list                         the client's latest batches
 * The API: RECHARGEFLOW_URL, else the one `npm start` runs (its run file), else
 * http://127.0.0.1:8080; the key: RECHARGEFLOW_API_KEY, else the demo key npm start wrote.
 * Every failure ends in one sentence on stderr and exit code 1 (2 for a wrong command line).
 * A workstation tool (devDependencies only): the image does not carry it; point it at a deployed
 * API with RECHARGEFLOW_URL instead.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ApiClient, CliError, locateApi } from './batch/api-client.ts';
import { followBatch, following, list, results, status, upload } from './batch/commands.ts';
import { createDisplay } from './batch/progress.ts';
import { runFilePath } from './batch/run-file.ts';

const ENVIRONMENT = `
Environment:
  RECHARGEFLOW_URL       the API (default: the one npm start runs, found through its run file
                         ${runFilePath()}; else http://127.0.0.1:8080)
  RECHARGEFLOW_API_KEY   a client API key (default: the demo key npm start made)
  RECHARGEFLOW_RUN_FILE  where npm start writes its run file, and where this CLI looks for it`;

function fail(message: string, code = 1): never {
  process.stderr.write(`batch: ${message.replace(/\s+$/, '')}\n`);
  process.exit(code);
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds, 0 or more');
  return n;
}

/**
 * A path as the person typed it: npm runs scripts from the repository root, so a relative path
 * is taken from where `npm run` was typed (INIT_CWD, which npm sets).
 */
function userPath(path: string): string {
  return resolve(process.env.INIT_CWD || process.cwd(), path);
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new InvalidArgumentError('must be a whole number from 1 to 100');
  return n;
}

function client(): ApiClient {
  return new ApiClient(locateApi());
}

interface FollowFlags {
  out?: string;
  interval: number;
  stallAfter: number;
  waitEvery: number;
  plainEvery: number;
}

function followSettings(flags: FollowFlags) {
  return {
    display: createDisplay({ tty: Boolean(process.stderr.isTTY), plainEveryMs: flags.plainEvery * 1000 }),
    intervalMs: Math.max(100, flags.interval * 1000),
    stallMs: flags.stallAfter * 1000,
    waitEveryMs: flags.waitEvery * 1000,
    out: flags.out === undefined ? undefined : userPath(flags.out),
  };
}

/** The options of the commands that follow a batch. */
function followOptions(command: Command): Command {
  return command
    .option('-o, --out <file>', 'where to save results.csv')
    .option('--interval <seconds>', 'how often to look at the batch', seconds, 1)
    .option('--stall-after <seconds>', 'say why it waits once nothing has moved for this long', seconds, 5)
    .option('--wait-every <seconds>', 'repeat the reason at most this often while nothing moves', seconds, 30)
    .option(
      '--plain-every <seconds>',
      'without a terminal: at most one progress line this often',
      seconds,
      10,
    );
}

const program = new Command('npm run batch --')
  .description('Upload CSV batches of recharges to Rechargeflow and follow them to their end.')
  .addHelpText('after', ENVIRONMENT)
  .showHelpAfterError('(--help shows the commands and their options)')
  .configureOutput({ outputError: (text, write) => write(`batch: ${text.replace(/^error: /, '')}`) })
  .exitOverride();

followOptions(
  program
    .command('upload')
    .description(
      'upload a CSV file, show its progress (and why it waits) until every order is settled, save results.csv and sum it up',
    )
    .argument('<file>', 'the CSV file (header row: orderId,operator,circle,number,amount,value1,value2)')
    .option('--no-follow', 'upload only: print the batch id and stop'),
).action(async (file: string, flags: FollowFlags & { follow: boolean }) => {
  const settings = followSettings(flags);
  await upload(client(), userPath(file), {
    ...settings,
    follow: flags.follow,
    say: (line) => settings.display.log(line),
  });
});

followOptions(
  program
    .command('follow')
    .description('follow a batch uploaded before until every order is settled, then save results.csv')
    .argument('<batchId>', 'the batch id upload printed'),
).action(async (batchId: string, flags: FollowFlags) => {
  await followBatch(client(), batchId, { ...followSettings(flags), dir: userPath('.') });
});

program
  .command('status')
  .description('one look at a batch: rows, orders by state, why its import stopped')
  .argument('<batchId>')
  .option('--json', 'the API answer as it is')
  .action(async (batchId: string, flags: { json?: boolean }) => {
    await status(client(), batchId, Boolean(flags.json));
  });

program
  .command('results')
  .description('save the batch results.csv: one line per input row with its state and reason')
  .argument('<batchId>')
  .argument('[out]', 'the file to write (default: stdout)')
  .action(async (batchId: string, out: string | undefined) => {
    await results(client(), batchId, out === undefined ? undefined : userPath(out));
  });

program
  .command('list')
  .description('the latest batches of this API key, newest first')
  .option('-n, --limit <count>', 'how many', positive, 20)
  .action(async (flags: { limit: number }) => {
    await list(client(), flags.limit);
  });

// Ctrl-C (or a SIGTERM) while following: the batch goes on without the CLI.
const stopped = () => {
  following.display?.stop();
  if (!following.batchId) fail('stopped; an upload cut off before its answer leaves nothing stored', 130);
  fail(
    `stopped following batch ${following.batchId}; it goes on without this command (npm run batch -- follow ${following.batchId} picks it up again)`,
    130,
  );
};
process.on('SIGINT', stopped);
process.on('SIGTERM', stopped);
// A reader that went away (`| head`): nothing more to say.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
});
for (const event of ['uncaughtException', 'unhandledRejection'] as const)
  process.on(event, (error: unknown) => fail(error instanceof Error ? error.message : String(error)));

try {
  await program.parseAsync(process.argv);
  // Idle keep-alive sockets would hold the process open for a few seconds.
  process.stdout.write('', () => process.exit(0));
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version print and exit 0; a wrong command line was already said by commander.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  fail(error instanceof CliError || error instanceof Error ? error.message : String(error));
}
