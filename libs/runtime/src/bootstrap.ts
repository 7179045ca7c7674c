import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, BaseConfig } from '@triggers/config';
import { createLogger, Logger } from '@triggers/logging';
import { startTracing, stopTracing } from '@triggers/tracing';
import { PinoNestLogger } from './nest-logger';
import { startShutdownWatchdog } from './shutdown-watchdog';

/** How long after SHUTDOWN_TIMEOUT_MS the watchdog thread steps in (the main thread's own exit comes first when it can). */
const WATCHDOG_GRACE_MS = 3_000;

/**
 * Starts one app: reads its config (a bad variable stops it with a message naming the variable),
 * creates the Nest app with structured logs and shutdown hooks, and listens on its port.
 * SIGTERM/SIGINT let in-flight work finish, then close connections.
 */
export async function runApp<C extends BaseConfig>(
  app: string,
  loadConfig: () => C,
  createModule: (config: C, logger: Logger) => unknown,
  /** Extra set-up of the Nest app before it listens (middleware, OpenAPI). */
  configure?: (app: INestApplication, config: C, logger: Logger) => void | Promise<void>,
  /** `bodyParser: false` when `configure` installs its own (limits, media types). */
  nestOptions: { bodyParser?: boolean } = {},
): Promise<void> {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    const logger = createLogger({ app });
    logger.fatal({ problems: (err as ConfigError).problems }, (err as Error).message);
    process.exit(78); // EX_CONFIG
  }
  const logger = createLogger({ app, level: config.logLevel });
  if ((await startTracing(app)).enabled)
    logger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'tracing on');
  const nest = await NestFactory.create(createModule(config, logger) as never, {
    logger: new PinoNestLogger(logger),
    ...nestOptions,
  });
  // Signals are handled here rather than by enableShutdownHooks, which re-raises the signal after
  // closing: here a graceful stop runs the same shutdown hooks and then exits 0, and a stop that
  // takes longer than SHUTDOWN_TIMEOUT_MS exits 1 (or is killed by the watchdog 3 s later, with the
  // main thread's stack in the log, if its event loop no longer turns).
  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, `${app} shutting down`);
    // Should the main thread stop yielding, no timer of its own runs: another thread then logs
    // where it is and ends the process, a little after the deadline below.
    startShutdownWatchdog(app, config.shutdownTimeoutMs + WATCHDOG_GRACE_MS);
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    nest
      .close()
      .then(() => stopTracing())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await configure?.(nest, config, logger);
  await nest.listen(config.port, config.host);
  logger.info({ port: config.port, host: config.host }, `${app} listening`);
}
