import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { WebhookDispatcherModule } from './webhook-dispatcher.module';

void runApp(
  'webhook-dispatcher',
  () => appConfig['webhook-dispatcher'](),
  (config, logger) => WebhookDispatcherModule.forRoot(config, logger),
);
