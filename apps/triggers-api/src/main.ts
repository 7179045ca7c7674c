import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { appConfig } from '@triggers/config';
import { runApp } from '@triggers/runtime';
import { bodyParseErrors, docsHeaders, hardenRequests, rejectDeepJson } from './http/request-limits.middleware';
import { requestLog } from './http/request-log.middleware';
import { TriggersApiModule } from './triggers-api.module';

void runApp(
  'triggers-api',
  () => appConfig['triggers-api'](),
  (config, logger) => TriggersApiModule.forRoot(config, logger),
  (nest, config, logger) => {
    const app = nest as NestExpressApplication;
    app.use(requestLog(logger));
    // Says nothing of what serves the API.
    app.getHttpAdapter().getInstance().disable('x-powered-by');
    app.use(hardenRequests(config.maxBodyBytes));
    // JSON only, at most API_MAX_BODY_BYTES (413 past it, 415 for any other media type).
    app.useBodyParser('json', { limit: config.maxBodyBytes, type: ['application/json', 'application/*+json'] });
    app.use(bodyParseErrors(config.maxBodyBytes));
    app.use(rejectDeepJson);
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Triggers API')
        .setDescription('Manage triggers (event type, conditions, actions) and read their Event Logs. Authenticate with `Authorization: Bearer <api key>`.')
        .setVersion('1')
        .addBearerAuth()
        .build(),
    );
    app.use('/docs', docsHeaders);
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  },
  { bodyParser: false },
);
