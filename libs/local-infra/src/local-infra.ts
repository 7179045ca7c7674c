import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { InfraConfig, kafkaNodePorts } from '@triggers/config';
import { waitFor } from './wait-for';
import { isOurProcess, isPortOpen, readPid, removeFile, startDetached, stopProcess, tail } from './process-control';
import { ServerDefinition, ferretdbServer, kafkaBrokerServer, kafkaClasspath, kafkaClusterNodeServer, kafkaServer, registryServer } from './servers';

/** One server's state, as `infra:status` prints it. */
export interface ServerStatus {
  name: string;
  port: number;
  pid?: number;
  running: boolean;
  ready: boolean;
  external: boolean;
  logFile: string;
}

/** What `up` did to one server. */
export type UpOutcome = 'started' | 'already running' | 'external';

/**
 * Installs, starts, checks and stops the local Kafka, schema registry and FerretDB of one
 * profile. Start is idempotent (a running server is reused) and recovers from a crash (a stale
 * pid file is removed; already-formatted storage is kept). Logs go to `<dataDir>/logs/`.
 */
export class LocalInfra {
  readonly servers: ServerDefinition[];
  private readonly addedBrokers = new Map<number, ReturnType<typeof kafkaBrokerServer>>();

  constructor(
    readonly config: InfraConfig,
    readonly repoRoot: string,
    private readonly say: (line: string) => void = () => undefined,
  ) {
    // Start order: the registry keeps its schemas in Kafka, so Kafka comes first.
    const kafka = config.kafka.nodes > 1 ? kafkaNodePorts(config).map((n) => kafkaClusterNodeServer(config, n.nodeId)) : [kafkaServer(config)];
    this.servers = [...kafka, ferretdbServer(config), registryServer(config)];
  }

  /**
   * Adds a broker-only node `nodeId` on `port` to this profile's Kafka cluster (Kafka 4), named
   * `kafka-<nodeId>`: `up([name])` starts it and `down([name])` stops it. Its storage is made
   * afresh here; a restart keeps it.
   */
  addBroker(nodeId: number, port: number): ServerDefinition {
    const server = kafkaBrokerServer(this.config, nodeId, port);
    server.reset();
    this.servers.push(server);
    this.addedBrokers.set(nodeId, server);
    return server;
  }

  /** Stops a node added by {@link addBroker}, unregisters it from the cluster and removes its storage. */
  async removeBroker(nodeId: number): Promise<void> {
    const server = this.addedBrokers.get(nodeId);
    if (!server) return;
    await this.down([server.name]);
    this.addedBrokers.delete(nodeId);
    this.servers.splice(this.servers.indexOf(server), 1);
    execFileSync(
      'java',
      [
        '-cp',
        kafkaClasspath(this.config),
        'org.apache.kafka.tools.ClusterTool',
        'unregister',
        '--bootstrap-server',
        `127.0.0.1:${this.config.kafka.port}`,
        '--id',
        String(nodeId),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    server.reset();
  }

  /** Runs deploy/local/install.sh (cached; seconds when everything is there). */
  install(): void {
    execFileSync('bash', [join(this.repoRoot, 'deploy/local/install.sh')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, INFRA_HOME: this.config.home },
    });
  }

  logFile(server: ServerDefinition): string {
    return join(this.config.dataDir, 'logs', `${server.name}.log`);
  }

  private pidFile(server: ServerDefinition): string {
    return join(this.config.dataDir, 'run', `${server.name}.pid`);
  }

  /**
   * Starts every server not yet running (or only those named) and waits until each answers. The
   * nodes of a multi-node Kafka are launched together, then awaited (none answers alone).
   */
  async up(only?: string[]): Promise<Record<string, UpOutcome>> {
    const outcomes: Record<string, UpOutcome> = {};
    const chosen = this.servers.filter((s) => !only || only.includes(s.name));
    for (let i = 0; i < chosen.length;) {
      let end = i + 1;
      while (end < chosen.length && chosen[i].startsWith !== undefined && chosen[end].startsWith === chosen[i].startsWith) end++;
      const group = chosen.slice(i, end);
      const launched = await Promise.all(group.map(async (server) => ({ server, launch: await this.launch(server) })));
      for (const { server, launch } of launched) outcomes[server.name] = await launch();
      i += group.length;
    }
    return outcomes;
  }

  /** Starts a server's process when it is not running; the function returned awaits its answer. */
  private async launch(server: ServerDefinition): Promise<() => Promise<UpOutcome>> {
    const pidFile = this.pidFile(server);
    const pid = readPid(pidFile);
    if (pid && isOurProcess(pid, server.marker)) {
      return async () => {
        await this.awaitReady(server, pid);
        this.say(`${server.name}: already running (pid ${pid}, port ${server.port})`);
        return 'already running';
      };
    }
    if (pid) {
      this.say(`${server.name}: removing stale pid file (pid ${pid} is gone)`);
      removeFile(pidFile);
    }
    if (await isPortOpen(server.port)) {
      if (await server.ready()) {
        this.say(`${server.name}: port ${server.port} is served by a process this project did not start; using it`);
        return async () => 'external';
      }
      throw new Error(
        `${server.name}: port ${server.port} is in use by another program that is not a ${server.name} ` +
          `(free it, or choose another port with the INFRA_*_PORT variables)`,
      );
    }
    server.prepare();
    const { cmd, args, env, cwd } = server.command();
    const started = Date.now();
    this.say(`${server.name}: starting on port ${server.port} (log: ${this.logFile(server)})`);
    const newPid = startDetached(cmd, args, { cwd, env, logFile: this.logFile(server), pidFile });
    return async () => {
      await this.awaitReady(server, newPid);
      this.say(`${server.name}: ready in ${((Date.now() - started) / 1000).toFixed(1)}s (pid ${newPid})`);
      return 'started';
    };
  }

  /** kill -9 of a server this profile started (a crash, for fault tests); `up([name])` starts it again. */
  async kill(name: string): Promise<void> {
    const server = this.servers.find((s) => s.name === name);
    const pid = server && readPid(this.pidFile(server));
    if (!server || !pid || !isOurProcess(pid, server.marker)) throw new Error(`${name} is not running`);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isOurProcess(pid, server.marker), { timeoutMs: 10_000, description: `${name} (pid ${pid}) gone after kill -9` });
    removeFile(this.pidFile(server));
  }

  private async awaitReady(server: ServerDefinition, pid: number): Promise<void> {
    const deadline = Date.now() + server.startTimeoutMs;
    const lastLines = () => `last lines of ${this.logFile(server)}:\n${tail(this.logFile(server), 30)}`;
    const started = Date.now();
    let nextProgress = started + 5_000;
    while (!(await server.ready())) {
      if (!isOurProcess(pid, server.marker)) throw new Error(`${server.name} exited during start-up; ${lastLines()}`);
      // A line every 5 s, so a slow start (the registry takes half a minute) is seen to progress.
      if (Date.now() >= nextProgress) {
        this.say(`${server.name}: still starting… ${Math.round((Date.now() - started) / 1000)}s`);
        nextProgress += 5_000;
      }
      if (Date.now() > deadline) {
        throw new Error(`${server.name} did not answer on port ${server.port} within ${server.startTimeoutMs} ms; ${lastLines()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Stops every server this profile started (registry first, Kafka last), or only those named. */
  async down(only?: string[]): Promise<Record<string, string>> {
    const results: Record<string, string> = {};
    for (const server of [...this.servers].reverse()) {
      if (only && !only.includes(server.name)) continue;
      const pidFile = this.pidFile(server);
      const pid = readPid(pidFile);
      if (!pid || !isOurProcess(pid, server.marker)) {
        removeFile(pidFile);
        results[server.name] = 'not running';
        continue;
      }
      results[server.name] = await stopProcess(pid, server.stopGraceMs);
      removeFile(pidFile);
      this.say(`${server.name}: ${results[server.name]} (pid ${pid})`);
    }
    return results;
  }

  /** Each server's pid, whether it runs and whether it answers. */
  async status(): Promise<ServerStatus[]> {
    const out: ServerStatus[] = [];
    for (const server of this.servers) {
      const pid = readPid(this.pidFile(server));
      const running = !!pid && isOurProcess(pid, server.marker);
      const ready = await server.ready();
      out.push({
        name: server.name,
        port: server.port,
        pid: running ? pid : undefined,
        running,
        ready,
        external: !running && ready,
        logFile: this.logFile(server),
      });
    }
    return out;
  }
}
