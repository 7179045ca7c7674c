#!/usr/bin/env node
/**
 * triggers <command> [arguments] — the operator tools in one command. The production image has it
 * on its PATH (`kubectl exec deploy/triggers-api -- triggers dlq list`); a developer's checkout runs
 * the same code as `npm run -s <command> -- [arguments]`. Each command reads its connection
 * settings from the environment, as the apps do.
 */

/** The commands, each loaded only when asked for (a command's dependencies load with it). */
const COMMANDS: Record<string, { about: string; load: () => Promise<unknown> }> = {
  dlq: { about: 'list, show and replay dead letters', load: () => import('./dlq') },
  logs: { about: 'read the log topic: one tenant, trigger or step, as lines or JSON', load: () => import('./logs') },
  admin: { about: 'API keys, leads and lists imports, stats recount', load: () => import('./admin') },
  produce: { about: 'publish events from a {type, payload} JSON file', load: () => import('./produce') },
  topics: { about: 'list the topics, or create and check them (apply)', load: () => import('./topics') },
  'kafka-versions': { about: 'check a Kafka release against the client', load: () => import('./kafka-versions') },
};

const usage = `usage: triggers <command> [arguments]  (run a command without arguments for its own usage)\n${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)} ${c.about}\n`)
  .join('')}`;

const name = process.argv[2];
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage);
  process.exit(name === undefined ? 2 : 0);
}
const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
if (!command) {
  process.stderr.write(`error: no command "${name}"\n${usage}`);
  process.exit(2);
}
// The command reads its own arguments from process.argv[2] on, as when it ran alone.
process.argv.splice(2, 1);
command.load().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
