import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, BaseConfig } from '@triggers/config';
import { createLogger, Logger } from '@triggers/logging';
import { PinoNestLogger } from './nest-logger';

/**
 * Starts one app: reads its config (a bad variable stops it with a message naming the variable),
 * creates the Nest app with structured logs and shutdown hooks, and listens on its port.
 * SIGTERM/SIGINT let in-flight work finish, then close connections.
 */
export async function runApp<C extends BaseConfig>(
  app: string,
  loadConfig: () => C,
  createModule: (config: C, logger: Logger) => unknown,
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
  const nest = await NestFactory.create(createModule(config, logger) as never, {
    logger: new PinoNestLogger(logger),
  });
  nest.enableShutdownHooks();
  const forceExit = () => setTimeout(() => process.exit(1), config.shutdownTimeoutMs).unref();
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  await nest.listen(config.port, config.host);
  logger.info({ port: config.port, host: config.host }, `${app} listening`);
}
