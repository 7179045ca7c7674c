import { DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';

/** log-sink: writes the log topic into MongoDB for the Event Logs view. */
@Module({})
export class LogSinkModule {
  static forRoot(config: BaseConfig, logger: Logger): DynamicModule {
    return {
      module: LogSinkModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: true })],
    };
  }
}
