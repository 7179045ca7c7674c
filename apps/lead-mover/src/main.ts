import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { LeadMoverModule } from './lead-mover.module';

void runApp(
  'lead-mover',
  () => appConfig['lead-mover'](),
  (config, logger) => LeadMoverModule.forRoot(config, logger),
);
