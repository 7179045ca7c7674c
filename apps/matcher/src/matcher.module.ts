import { DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';

/** matcher: reads every event topic and the trigger config topic, and emits one command per matching action. */
@Module({})
export class MatcherModule {
  static forRoot(config: BaseConfig, logger: Logger): DynamicModule {
    return {
      module: MatcherModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: false })],
    };
  }
}
