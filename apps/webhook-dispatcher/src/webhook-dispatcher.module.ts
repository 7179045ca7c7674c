import { DynamicModule, Module } from '@nestjs/common';
import type { DispatcherConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { RuntimeModule } from '@triggers/runtime';
import { TriggerConfigModule } from '@triggers/trigger-config';
import { WebhookCommandHandler } from './handlers/webhook-command.handler';
import { EndpointHealthProcessor } from './health/endpoint-health.processor';
import { WebhookDeliveryService } from './services/webhook-delivery.service';
import { WebhookSecretsStore } from './services/webhook-secrets.store';

/** webhook-dispatcher: delivers webhook commands and retries them through the delay topic, and tells tenants when an endpoint fails and recovers. */
@Module({})
export class WebhookDispatcherModule {
  static forRoot(config: DispatcherConfig, logger: Logger): DynamicModule {
    return {
      module: WebhookDispatcherModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo: false }), TriggerConfigModule.forApp({ groupId: config.groupId })],
      providers: [WebhookSecretsStore, WebhookDeliveryService, WebhookCommandHandler, EndpointHealthProcessor],
    };
  }
}
