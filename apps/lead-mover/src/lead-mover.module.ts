import { DynamicModule, Module } from '@nestjs/common';
import type { LeadMoverConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { MongoHandle, connectMongo } from '@triggers/mongo';
import { MONGO, RuntimeModule } from '@triggers/runtime';
import { LeadCommandHandler } from './handlers/lead-command.handler';
import { HttpLeadsStore } from './services/http-leads.store';
import { LEADS_STORE } from './services/leads.store';
import { MongoLeadsStore } from './services/mongo-leads.store';

/** lead-mover: applies lead.update.list within the lead's campaign, idempotently. */
@Module({})
export class LeadMoverModule {
  static forRoot(config: LeadMoverConfig, logger: Logger): DynamicModule {
    const mongo = config.leadsStore === 'mongo';
    return {
      module: LeadMoverModule,
      imports: [RuntimeModule.forApp({ config, logger, mongo })],
      providers: [
        mongo
          ? {
              provide: LEADS_STORE,
              inject: [MONGO],
              useFactory: async (handle: MongoHandle) => {
                const store = new MongoLeadsStore(handle.db, async () => (await connectMongo(config.mongodbUri)).db, logger);
                // Indexes are a convenience: a store that is down now is retried per command.
                await store.init().catch((err: Error) => logger.warn({ err: err.message }, 'could not create the leads indexes yet'));
                return store;
              },
            }
          : { provide: LEADS_STORE, useFactory: () => new HttpLeadsStore(config.leadsApi!) },
        LeadCommandHandler,
      ],
    };
  }
}
