import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { TriggersApiModule } from './triggers-api.module';

void runApp('triggers-api', () => appConfig['triggers-api'](), (config, logger) => TriggersApiModule.forRoot(config, logger));
