import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AccessStore } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import type { MongoHandle } from '@triggers/mongo';
import { MONGO, RuntimeModule } from '@triggers/runtime';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { ApiKeyGuard } from './http/api-key.guard';
import { EventLogsController } from './event-logs/event-logs.controller';
import { RedeliveryController } from './redelivery/redelivery.controller';
import { WebhookSends } from './redelivery/webhook-sends.service';
import { StatsController } from './stats/stats.controller';
import { NotificationsController } from './notifications/notifications.controller';
import { KeyThrottlerGuard } from './http/key-throttler.guard';
import { EventTypesController } from './triggers/event-types.controller';
import { WebController } from './http/web.controller';
import { TriggersController } from './triggers/triggers.controller';
import { CommandProducer } from './redelivery/command-producer.service';
import { ConfigPublisher } from './config-sync/config-publisher.service';
import { ConfigReconciler } from './config-sync/config-reconciler.service';
import { BulkRedeliveryService } from './redelivery/bulk-redelivery.service';
import { DeliveryStatsService } from './stats/delivery-stats.service';
import { EventLogService } from './event-logs/event-log.service';
import { TriggerRepository } from './trigger-store/trigger.repository';
import { TriggerService } from './triggers/trigger.service';
import { WebhookUrls } from './http/webhook-urls';

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
      controllers: [
        TriggersController,
        StatsController,
        EventLogsController,
        RedeliveryController,
        EventTypesController,
        NotificationsController,
        WebController,
      ],
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
        WebhookSends,
      ],
    };
  }
}
