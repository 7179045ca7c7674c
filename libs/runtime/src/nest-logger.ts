import type { LoggerService } from '@nestjs/common';
import type { Logger } from '@triggers/logging';

/** Routes Nest's own log lines into the app's pino logger, so every line is structured JSON. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private line(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', message: unknown, context: unknown[]) {
    const ctx = context.length > 0 ? String(context[context.length - 1]) : undefined;
    if (message instanceof Error) this.logger[level]({ err: message, context: ctx }, message.message);
    else this.logger[level]({ context: ctx }, typeof message === 'string' ? message : JSON.stringify(message));
  }

  log(message: unknown, ...context: unknown[]) {
    this.line('info', message, context);
  }
  error(message: unknown, ...context: unknown[]) {
    this.line('error', message, context);
  }
  warn(message: unknown, ...context: unknown[]) {
    this.line('warn', message, context);
  }
  debug(message: unknown, ...context: unknown[]) {
    this.line('debug', message, context);
  }
  verbose(message: unknown, ...context: unknown[]) {
    this.line('trace', message, context);
  }
}
