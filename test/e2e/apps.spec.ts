import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAMES, AppProcess, appRuntimeSettings, freePort, repoRoot, startApp, waitForHealthy, useTestContext } from '@triggers/testing';

interface Health {
  status: string;
  app: string;
  checks: Record<string, { ok: boolean }>;
}

describe('the five apps as processes', () => {
  const ctx = useTestContext({ topics: true });

  it('start healthy, serve Prometheus metrics and stop cleanly on SIGTERM', async () => {
    const apps: AppProcess[] = [];
    try {
      for (const name of APP_NAMES) apps.push(startApp(name, { ...ctx().env, PORT: String(await freePort()) }));
      for (const app of apps) {
        const health = (await waitForHealthy(app)) as Health;
        expect(health.status).toBe('ok');
        expect(health.app).toBe(app.name);
        expect(health.checks.kafka.ok).toBe(true);
        expect(health.checks.schemaRegistry.ok).toBe(true);
        const metrics = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
        expect(metrics).toContain(`triggers_app_info{app="${app.name}"} 1`);
        expect(metrics).toContain('triggers_process_resident_memory_bytes');
        // Launched through deploy/run-app.sh, as in the image: the pid is node's, with the memory settings.
        const argv = readFileSync(`/proc/${app.child.pid}/cmdline`, 'utf8').split('\0');
        expect(argv).toContain('--max-semi-space-size=8');
        expect(argv).toContain('--max-old-space-size=1536');
        expect(argv).toContain(join(repoRoot(), 'dist/apps', app.name, 'src/main.js'));
        expect(readFileSync(`/proc/${app.child.pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_MMAP_THRESHOLD_=131072');
        // What `run-app.sh --settings` reports (the benches' floors run with it) is what the apps got.
        const settings = appRuntimeSettings();
        expect(settings).toEqual({ env: { MALLOC_MMAP_THRESHOLD_: '131072' }, nodeArgs: ['--max-semi-space-size=8', '--max-old-space-size=1536'] });
        for (const flag of settings.nodeArgs) expect(argv).toContain(flag);
      }
      const usesMongo = ['triggers-api', 'lead-mover', 'log-sink'];
      for (const app of apps.filter((a) => usesMongo.includes(a.name))) {
        const health = (await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json()) as Health;
        expect(health.checks.mongodb.ok).toBe(true);
      }
    } finally {
      const codes = await Promise.all(apps.map((a) => a.stop()));
      expect(codes).toEqual(apps.map(() => 0));
    }
  });

  it('report 503 naming the dependency that is down', async () => {
    const app = startApp('matcher', {
      ...ctx().env,
      PORT: String(await freePort()),
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`,
    });
    try {
      await waitForHealthy(app, 5_000).catch(() => undefined);
      const res = await fetch(`http://127.0.0.1:${app.port}/healthz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as Health;
      expect(body.checks.schemaRegistry.ok).toBe(false);
      expect(body.checks.kafka.ok).toBe(true);
      // Not ready, yet alive: Kubernetes takes it out of rotation without restarting it.
      const live = await fetch(`http://127.0.0.1:${app.port}/livez`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'ok', app: 'matcher' });
    } finally {
      await app.stop();
    }
  });

  it('run-app.sh names the apps when asked for one that does not exist', () => {
    const run = spawnSync('/bin/sh', [join(repoRoot(), 'deploy/run-app.sh'), 'matchr'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(run.status).toBe(64);
    expect(run.stderr).toContain("one of triggers-api, matcher, webhook-dispatcher, lead-mover, log-sink; got 'matchr'");
  });

  it('refuse to start with a bad variable and name it', async () => {
    const app = startApp('webhook-dispatcher', { ...ctx().env, PORT: '3002', WEBHOOK_RETRY_DELAY_MS: 'ten minutes' });
    expect(await app.exited).toBe(78);
    expect(app.output()).toContain('WEBHOOK_RETRY_DELAY_MS');
  });
});
