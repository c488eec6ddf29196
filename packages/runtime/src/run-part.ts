import { ConfigError } from '@rechargeflow/config';

/**
 * Runs a part's `main`. A configuration error (or another error the part names as one) prints its
 * message and exits 2, the code that tells an operator "fix the settings"; any other start-up
 * failure exits 1.
 */
export function runPart(
  part: string,
  main: () => Promise<void>,
  configErrors: readonly (abstract new (...args: never[]) => Error)[] = [],
): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError || configErrors.some((kind) => error instanceof kind)) {
      process.stderr.write(`${(error as Error).message}\n`);
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
