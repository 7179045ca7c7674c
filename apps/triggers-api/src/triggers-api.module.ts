import { DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';

/** triggers-api: the HTTP API through which tenant admins manage triggers and read their Event Logs. */
@Module({})
export class TriggersApiModule {
  static forRoot(config: BaseConfig, logger: Logger): DynamicModule {
    return {
      module: TriggersApiModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: true })],
    };
  }
}
