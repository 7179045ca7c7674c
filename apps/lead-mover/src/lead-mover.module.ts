import { DynamicModule, Module } from '@nestjs/common';
import type { BaseConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';

/** lead-mover: applies lead.update.list commands against the leads store. */
@Module({})
export class LeadMoverModule {
  static forRoot(config: BaseConfig, logger: Logger): DynamicModule {
    return {
      module: LeadMoverModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: true })],
    };
  }
}
