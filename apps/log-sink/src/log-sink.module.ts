import { DynamicModule, Module } from '@nestjs/common';
import type { LogSinkConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';
import { LogBatchHandler } from './handlers/log-batch.handler';
import { EventLogWriter } from './services/event-log.writer';

/** log-sink: writes the log topic into MongoDB for the Event Logs view. */
@Module({})
export class LogSinkModule {
  static forRoot(config: LogSinkConfig, logger: Logger): DynamicModule {
    return {
      module: LogSinkModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: true })],
      providers: [EventLogWriter, LogBatchHandler],
    };
  }
}
