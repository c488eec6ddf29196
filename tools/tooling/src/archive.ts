/**
 * `npm run archive -- <command>`: the archive that ledger retention writes (docs/operations.md,
 * "Retention and the archive").
 *   find <clientId> <orderId> [dir]  print the archived order (JSON, history included) and where it is
 *   verify [dir]                      read every archived order back and check the files and the index
 *   reindex [dir]                     rebuild the lookup index from the files' sidecars
 * `dir` defaults to LEDGER_ARCHIVE_DIR. Exit codes: 0 done, 1 not found or problems found, 2 usage.
 * A workstation and operator tool (devDependencies only): the image does not carry it; run it
 * where the archive directory is mounted.
 */
import { resolve } from 'node:path';
import { findArchived, rebuildIndex, verifyArchive } from '@rechargeflow/ledger';
import { Command, CommanderError } from 'commander';

function fail(message: string, code = 1): never {
  process.stderr.write(`archive: ${message}\n`);
  process.exit(code);
}

/** The directory as typed (relative to where `npm run` was typed), else LEDGER_ARCHIVE_DIR. */
function archiveDir(given: string | undefined): string {
  const dir = given ?? process.env.LEDGER_ARCHIVE_DIR;
  if (dir === undefined || dir.trim() === '')
    fail('no archive directory: give one, or set LEDGER_ARCHIVE_DIR', 2);
  return resolve(process.env.INIT_CWD || process.cwd(), dir);
}

const program = new Command('npm run archive --')
  .description('Find and check orders that ledger retention archived (LEDGER_ARCHIVE_DIR).')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

program
  .command('find')
  .description('print the archived order (the highest version if it was archived more than once)')
  .argument('<clientId>')
  .argument('<orderId>')
  .argument('[dir]', 'the archive directory (default LEDGER_ARCHIVE_DIR)')
  .action(async (clientId: string, orderId: string, dir: string | undefined) => {
    const found = await findArchived(archiveDir(dir), { clientId, orderId });
    if (found === null) fail(`no archived order ${orderId} of client ${clientId}`);
    process.stdout.write(
      `${JSON.stringify({ file: found.file, archivedAt: found.archivedAt, order: found.order }, null, 2)}\n`,
    );
  });

program
  .command('verify')
  .description('read every archived order back: files, lines, sidecars, members, copies and index')
  .argument('[dir]', 'the archive directory (default LEDGER_ARCHIVE_DIR)')
  .action(async (dir: string | undefined) => {
    const report = await verifyArchive(archiveDir(dir));
    process.stdout.write(
      [
        `files: ${report.files}`,
        `orders read back: ${report.copies} copies of ${report.orders} orders (${report.duplicateCopies} identical duplicates from resumed runs)`,
        `not in the lookup index: ${report.notIndexed}${report.notIndexed > 0 ? ' (run: npm run archive -- reindex)' : ''}`,
        `left by a stopped run: ${report.partialFiles}`,
        ...report.problems.map((problem) => `PROBLEM ${problem}`),
        report.problems.length === 0
          ? 'ok: every archived order reads back'
          : `${report.problems.length} problems`,
        '',
      ].join('\n'),
    );
    if (report.problems.length > 0) process.exit(1);
  });

program
  .command('reindex')
  .description('rebuild the lookup index from the sidecars (refused while a retention run writes)')
  .argument('[dir]', 'the archive directory (default LEDGER_ARCHIVE_DIR)')
  .action(async (dir: string | undefined) => {
    const count = await rebuildIndex(archiveDir(dir));
    process.stdout.write(`indexed ${count} archived copies\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  fail(error instanceof Error ? error.message : String(error));
}
