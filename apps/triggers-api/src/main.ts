import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { requestLog } from './handlers/request-log.middleware';
import { TriggersApiModule } from './triggers-api.module';

void runApp(
  'triggers-api',
  () => appConfig['triggers-api'](),
  (config, logger) => TriggersApiModule.forRoot(config, logger),
  (app: INestApplication, _config, logger) => {
    app.use(requestLog(logger));
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Triggers API')
        .setDescription('Manage triggers (event type, conditions, actions) and read their Event Logs. Authenticate with `Authorization: Bearer <api key>`.')
        .setVersion('1')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  },
);
