import { DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';

/** webhook-dispatcher: delivers webhook commands and retries them through the delay topic. */
@Module({})
export class WebhookDispatcherModule {
  static forRoot(config: BaseConfig, logger: Logger): DynamicModule {
    return {
      module: WebhookDispatcherModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: false })],
    };
  }
}
