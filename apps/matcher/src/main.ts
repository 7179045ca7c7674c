import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { MatcherModule } from './matcher.module';

void runApp(
  'matcher',
  () => appConfig['matcher'](),
  (config, logger) => MatcherModule.forRoot(config, logger),
);
