import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AccessStore } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import type { MongoHandle } from '@triggers/mongo';
import { MONGO, RuntimeModule } from '@triggers/runtime';
import { ApiExceptionFilter } from './handlers/api-exception.filter';
import { ApiKeyGuard } from './handlers/api-key.guard';
import { EventLogsController, JobsController } from './handlers/event-logs.controller';
import { KeyThrottlerGuard } from './handlers/key-throttler.guard';
import { EventTypesController } from './handlers/event-types.controller';
import { WebController } from './handlers/web.controller';
import { TriggersController } from './handlers/triggers.controller';
import { CommandProducer } from './services/command-producer.service';
import { ConfigPublisher } from './services/config-publisher.service';
import { ConfigReconciler } from './services/config-reconciler.service';
import { BulkRedeliveryService } from './services/bulk-redelivery.service';
import { DeliveryStatsService } from './services/delivery-stats.service';
import { EventLogService } from './services/event-log.service';
import { TriggerRepository } from './services/trigger.repository';
import { TriggerService } from './services/trigger.service';
import { WebhookUrls } from './services/webhook-urls';

/** triggers-api: the HTTP API through which tenant admins manage triggers and read their Event Logs. */
@Module({})
export class TriggersApiModule {
  static forRoot(config: ApiConfig, logger: Logger): DynamicModule {
    return {
      module: TriggersApiModule,
      imports: [
        RuntimeModule.forApp({ config, logger, mongo: true }),
        ThrottlerModule.forRoot([
          { name: 'key', ttl: 60_000, limit: config.rateLimitPerMinute },
          { name: 'tenant', ttl: 60_000, limit: config.tenantRateLimitPerMinute },
        ]),
      ],
      controllers: [TriggersController, EventLogsController, JobsController, EventTypesController, WebController],
      providers: [
        {
          provide: AccessStore,
          useFactory: async (mongo: MongoHandle) => {
            const store = new AccessStore(mongo.db);
            await store.ensureIndexes().catch(() => undefined);
            return store;
          },
          inject: [MONGO],
        },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        ApiKeyGuard,
        KeyThrottlerGuard,
        TriggerRepository,
        ConfigPublisher,
        ConfigReconciler,
        TriggerService,
        WebhookUrls,
        CommandProducer,
        EventLogService,
        DeliveryStatsService,
        BulkRedeliveryService,
      ],
    };
  }
}
