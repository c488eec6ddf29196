import { ConfigError, configuredSecrets } from '@rechargeflow/config';
import { createLogger, installShutdown } from '@rechargeflow/observability';
import { createSimulator } from '@rechargeflow/simulator';
import { parseSimulatorConfig } from './config.ts';

async function main(): Promise<void> {
  const config = parseSimulatorConfig(process.env);
  const logger = createLogger({
    name: 'simulator',
    level: config.LOG_LEVEL,
    secrets: configuredSecrets(process.env),
  });
  const simulator = createSimulator({
    username: config.A1TOPUP_USERNAME,
    password: config.A1TOPUP_PASSWORD,
    latencyMs: config.SIM_LATENCY_MS,
    failureRate: config.SIM_FAILURE_RATE,
    pendingRate: config.SIM_PENDING_RATE,
    garbageRate: config.SIM_GARBAGE_RATE,
    serverErrorRate: config.SIM_SERVER_ERROR_RATE,
    timeoutRate: config.SIM_TIMEOUT_RATE,
    resetRate: config.SIM_RESET_RATE,
    settleAfterMs: config.SIM_SETTLE_AFTER_MS,
    slowMs: config.SIM_SLOW_MS,
    holdMs: config.SIM_HOLD_MS,
    oversizeBytes: config.SIM_OVERSIZE_BYTES,
    callbackUrl: config.SIM_CALLBACK_URL ?? null,
    callbackCopies: config.SIM_CALLBACK_COPIES,
    callbackConcurrent: config.SIM_CALLBACK_CONCURRENT,
    answerCallback: config.SIM_ANSWER_CALLBACK,
    answerCallbackGapMs: config.SIM_ANSWER_CALLBACK_GAP_MS,
    magicAmounts: config.SIM_MAGIC_AMOUNTS,
    xmlStyle: config.SIM_XML_STYLE,
    initialBalance: config.SIM_INITIAL_BALANCE,
    telgoo5TokenTtlMs: config.SIM_TELGOO5_TOKEN_TTL_MS,
    telgoo5DocumentBodies: config.SIM_TELGOO5_DOCUMENT_BODIES,
    telgoo5: {
      vendorId: config.TELGOO5_VENDOR_ID,
      username: config.TELGOO5_USERNAME,
      password: config.TELGOO5_PASSWORD,
      pin: config.TELGOO5_PIN,
      agentIds: config.TELGOO5_AGENT_ID,
      tokenHeader: config.TELGOO5_TOKEN_HEADER,
    },
    ...(config.SIM_SEED !== undefined ? { seed: config.SIM_SEED } : {}),
    logger,
  });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [{ name: 'close simulator', run: () => simulator.close() }],
  });
  const { url } = await simulator.listen(config.SIMULATOR_PORT, config.SIMULATOR_HOST);
  const { callbackUrl, ...knobs } = simulator.config();
  // The callback URL carries the callback token in its path: say whether it is set, not what it is.
  logger.info(
    { url, seed: simulator.seed, callbacks: callbackUrl !== null, ...knobs },
    'A1Topup simulator listening',
  );
  // Credentials are never logged; the vendor id and agents are not secret.
  logger.info(
    {
      url: `${url}/telgoo5`,
      vendorId: config.TELGOO5_VENDOR_ID,
      agentIds: config.TELGOO5_AGENT_ID,
      tokenHeader: config.TELGOO5_TOKEN_HEADER,
      tokenTtlMs: knobs.telgoo5TokenTtlMs,
    },
    'Telgoo5 simulator listening',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `simulator: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
