import type { Logger } from 'pino';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<unknown>;
}

export interface ShutdownOptions {
  readonly logger: Logger;
  /** Whole shutdown must finish within this; then the process exits 1. */
  readonly deadlineMs: number;
  /** In order: stop intake, drain workers, close stores, metrics last. */
  readonly steps: readonly ShutdownStep[];
  readonly exit?: ((code: number) => void) | undefined;
}

/**
 * The one shutdown path of every app: on SIGTERM or SIGINT run the steps in order within a
 * deadline and exit 0; a second signal, or the deadline, forces exit 1. Returns a function that
 * runs the same shutdown programmatically.
 */
export function installShutdown(options: ShutdownOptions): (reason: string) => Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    options.logger.info({ reason, deadlineMs: options.deadlineMs }, 'shutting down');
    const deadline = setTimeout(() => {
      options.logger.error({ deadlineMs: options.deadlineMs }, 'shutdown deadline passed; forcing exit');
      exit(1);
    }, options.deadlineMs);
    deadline.unref();
    shuttingDown = (async () => {
      let failed = false;
      for (const step of options.steps) {
        try {
          await step.run();
          options.logger.info({ step: step.name }, 'shutdown step done');
        } catch (error) {
          failed = true;
          options.logger.error({ step: step.name, err: error }, 'shutdown step failed');
        }
      }
      clearTimeout(deadline);
      options.logger.info({ failed }, 'shutdown complete');
      exit(failed ? 1 : 0);
    })();
    return shuttingDown;
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        options.logger.warn({ signal }, 'second signal: forcing exit');
        exit(1);
        return;
      }
      void shutdown(signal);
    });
  }
  return shutdown;
}
