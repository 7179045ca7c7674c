import { rmSync } from 'node:fs';
import { loadInfraConfig } from '@triggers/config';
import { ferretdbServer, freePort, repoRoot, startDetached, stopProcess, waitFor } from '@triggers/local-infra';
import { uniqueId } from './test-context';

/** A FerretDB of one test's own, to stop and start without disturbing the others. */
export interface ScratchFerretDB {
  /** `mongodb://` URI of `database` on it. */
  uri(database: string): string;
  /** Stops it (SIGTERM, then SIGKILL), as an outage. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it answers. */
  start(): Promise<void>;
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
  const ferret = ferretdbServer(infra);
  ferret.prepare();
  let pid: number | undefined;
  const start = async () => {
    const { cmd, args, env, cwd } = ferret.command();
    pid = startDetached(cmd, args, { cwd, env, logFile: `${infra.dataDir}/ferretdb.log`, pidFile: `${infra.dataDir}/ferretdb.pid` });
    await waitFor(() => ferret.ready(), { timeoutMs: 20_000, description: 'the scratch FerretDB' });
  };
  const stop = async () => {
    if (pid !== undefined) await stopProcess(pid, 10_000);
    pid = undefined;
  };
  await start();
  return {
    uri: (database) => `mongodb://127.0.0.1:${infra.mongo.port}/${database}`,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(infra.dataDir, { recursive: true, force: true });
    },
  };
}
