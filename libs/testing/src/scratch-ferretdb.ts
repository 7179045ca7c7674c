import { rmSync } from 'node:fs';
import { loadInfraConfig } from '@triggers/config';
import { RunningFerretDB, freePort, repoRoot, startFerretDB } from '@triggers/local-infra';
import { uniqueId } from './test-context';

/** A FerretDB of one test's own, to stop and start without disturbing the others. */
export interface ScratchFerretDB extends RunningFerretDB {
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/** Starts a scratch FerretDB on a free port with data under `.infra/test/`. */
export async function startScratchFerretDB(): Promise<ScratchFerretDB> {
  const infra = loadInfraConfig(
    { INFRA_DATA_DIR: `${repoRoot()}/.infra/test/${uniqueId('ferret')}`, INFRA_MONGO_PORT: String(await freePort()) },
    repoRoot(),
    'test',
  );
  const ferret = await startFerretDB(infra);
  return {
    ...ferret,
    async dispose() {
      await ferret.stop();
      rmSync(infra.dataDir, { recursive: true, force: true });
    },
  };
}
