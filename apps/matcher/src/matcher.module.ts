import { DynamicModule, Module } from '@nestjs/common';
import type { MatcherConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';
import { TriggerConfigModule } from '@triggers/trigger-config';
import { EventBatchHandler } from './handlers/event-batch.handler';
import { TriggerConfigStore } from './services/trigger-config.store';

/** matcher: reads every event topic and the trigger config topic, and emits one command per matching action. */
@Module({})
export class MatcherModule {
  static forRoot(config: MatcherConfig, logger: Logger): DynamicModule {
    return {
      module: MatcherModule,
      imports: [RuntimeModule.forApp({ config, logger }), TriggerConfigModule.forApp({ groupId: config.groupId })],
      providers: [TriggerConfigStore, EventBatchHandler],
    };
  }
}
