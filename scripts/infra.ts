/**
 * infra:up | infra:down | infra:status | infra:logs [server] [--lines N]
 * Manages the local Kafka, schema registry and FerretDB. INFRA_PROFILE=test addresses the test
 * suite's servers (their own ports and data) instead of the local system's.
 */
import { infraConnectionEnv, loadInfraConfig } from '@triggers/config';
import { LocalInfra, repoRoot, tail } from '@triggers/local-infra';

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const root = repoRoot();
  const infra = new LocalInfra(loadInfraConfig(process.env, root), root, (line) => process.stderr.write(`[infra] ${line}\n`));
  switch (command) {
    case 'up': {
      const started = Date.now();
      infra.install();
      const outcomes = await infra.up();
      process.stderr.write(`[infra] all servers ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
      // --json: machine-readable outcomes (the test suite's global setup reads them).
      if (rest.includes('--json')) process.stdout.write(`${JSON.stringify({ outcomes, env: infraConnectionEnv(infra.config) })}\n`);
      else await printStatus(infra);
      break;
    }
    case 'down':
      await infra.down();
      process.stderr.write('[infra] stopped\n');
      break;
    case 'status': {
      const ok = await printStatus(infra);
      process.exitCode = ok ? 0 : 1;
      break;
    }
    case 'logs': {
      const linesAt = rest.indexOf('--lines');
      const lines = linesAt >= 0 ? Number(rest[linesAt + 1]) : 40;
      const only = rest.find((a, i) => !a.startsWith('--') && rest[i - 1] !== '--lines');
      for (const server of infra.servers) {
        if (only && server.name !== only) continue;
        process.stdout.write(`==> ${infra.logFile(server)} <==\n${tail(infra.logFile(server), lines)}\n`);
      }
      break;
    }
    default:
      process.stderr.write('usage: infra.ts up|down|status|logs [kafka|registry|ferretdb] [--lines N]\n');
      process.exitCode = 2;
  }
}

async function printStatus(infra: LocalInfra): Promise<boolean> {
  const rows = await infra.status();
  for (const r of rows) {
    const state = r.running ? (r.ready ? 'ready' : 'running, not answering') : r.external ? 'ready (not started by this project)' : 'stopped';
    process.stdout.write(`${r.name.padEnd(9)} port ${String(r.port).padEnd(6)} ${state}${r.pid ? ` pid ${r.pid}` : ''}  log ${r.logFile}\n`);
  }
  return rows.every((r) => r.ready);
}

main().catch((err: Error) => {
  process.stderr.write(`[infra] ${err.message}\n`);
  process.exit(1);
});
