import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { LogSinkModule } from './log-sink.module';

void runApp(
  'log-sink',
  () => appConfig['log-sink'](),
  (config, logger) => LogSinkModule.forRoot(config, logger),
);
