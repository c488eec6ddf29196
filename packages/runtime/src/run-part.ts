import { ConfigurationError } from '@rechargeflow/domain';

/**
 * Runs a part's `main`. Settings it cannot start with (a ConfigurationError: its environment, its
 * routing table) print their message and exit 2, the code that tells an operator "fix the
 * settings"; any other start-up failure exits 1.
 */
export function runPart(part: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `${part}: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}

/** Closes an HTTP server if there is one (a metrics listener that may be off). */
export function closeServer(server: { close(done: () => void): unknown } | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
