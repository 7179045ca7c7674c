import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { repoRoot } from './repo';
import { waitFor } from './wait-for';

/** The five apps, in the order `npm start` brings them up. */
export const APP_NAMES = ['triggers-api', 'matcher', 'webhook-dispatcher', 'lead-mover', 'log-sink'] as const;

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One running app process. */
export interface AppProcess {
  name: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote, for assertions and failure messages. */
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * The Node and allocator settings `deploy/run-app.sh` gives every app (NODE_HEAP_FLAGS and
 * MALLOC_MMAP_THRESHOLD_ from this process's environment apply as they would there), for a
 * process that must run as the apps do without being one: a benchmark's floor.
 */
export function appRuntimeSettings(): { env: Record<string, string | undefined>; nodeArgs: string[] } {
  const out = execFileSync('/bin/sh', [join(repoRoot(), 'deploy/run-app.sh'), '--settings'], { encoding: 'utf8' });
  const [allocator, flags = ''] = out.split('\n');
  const [name, value] = allocator.split('=');
  // No value: glibc keeps its own threshold, so the variable must not reach the process at all.
  return { env: { [name]: value || undefined }, nodeArgs: flags.split(' ').filter(Boolean) };
}

/**
 * Starts a compiled app (`npm run build` first) as its own process, with `env` on top of the
 * current environment; its output is kept (and appended to `logFile` when given). It goes through
 * `deploy/run-app.sh`, as in the image, so it runs with the same Node and allocator settings
 * (`nodeArgs` are added to them); the shell execs node, so the child's pid is the app's.
 */
export function startApp(name: string, env: Record<string, string>, logFile?: string, nodeArgs: string[] = []): AppProcess {
  const main = join(repoRoot(), 'dist/apps', name, 'src/main.js');
  // Under Jest every app's output is kept in test/artifacts/logs/, to read when a test fails.
  logFile ??= process.env.JEST_WORKER_ID ? join(repoRoot(), 'test/artifacts/logs', `${name}-${env.PORT ?? 'x'}-${Date.now()}.log`) : undefined;
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  const child = spawn('/bin/sh', [join(repoRoot(), 'deploy/run-app.sh'), name, ...nodeArgs], {
    env: { ...process.env, ...env, NODE: process.execPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    file = createWriteStream(logFile, { flags: 'a' });
  }
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 1_000_000) output = output.slice(-500_000);
    file?.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      file?.end();
      resolve(code);
    }),
  );
  return {
    name,
    port: Number(env.PORT),
    child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Waits until the app's /healthz answers 200, failing early if the process exits. */
export async function waitForHealthy(app: AppProcess, timeoutMs = 30_000): Promise<unknown> {
  let exitCode: number | null | undefined;
  void app.exited.then((code) => (exitCode = code));
  return waitFor(
    async () => {
      if (exitCode !== undefined) throw new AppExitedError(`${app.name} exited with code ${exitCode}:\n${app.output().slice(-3000)}`);
      const res = await fetch(`http://127.0.0.1:${app.port}/healthz`, { signal: AbortSignal.timeout(3000) });
      return res.status === 200 ? res.json() : false;
    },
    { timeoutMs, intervalMs: 200, description: `${app.name} /healthz on port ${app.port}` },
  ).catch((err: Error) => {
    throw exitCode !== undefined ? new AppExitedError(`${app.name} exited with code ${exitCode}:\n${app.output().slice(-3000)}`) : err;
  });
}

class AppExitedError extends Error {}

/**
 * Starts an app for a test context on a free port (with `env` on top of the context's) and
 * waits until its /healthz answers 200.
 */
export async function startHealthyApp(ctxEnv: Record<string, string>, name: string, env: Record<string, string> = {}): Promise<AppProcess> {
  const app = startApp(name, { ...ctxEnv, PORT: String(await freePort()), ...env });
  await waitForHealthy(app);
  return app;
}
