import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { repoRoot, runBuiltCli, useTestContext } from '@triggers/testing';

/** Every .js file under `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? jsFiles(join(dir, d.name)) : d.name.endsWith('.js') ? [join(dir, d.name)] : [],
  );
}

/**
 * The operator tools as the production image ships them: one compiled `triggers` command
 * (`dist/cli/src/main.js`, on the image's PATH), run here with node, not through tsx. The dead
 * letter and log-topic commands run this way against real servers in the recovery tests.
 */
describe('the triggers command, built', () => {
  const ctx = useTestContext();

  it('names its commands, and refuses one it does not have with exit 2', async () => {
    const help = await runBuiltCli(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['dlq', 'logs', 'admin', 'produce', 'topics', 'kafka-versions']) expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect((await runBuiltCli([])).code).toBe(2);
    const unknown = await runBuiltCli(['replay']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: no command "replay"');
    expect(unknown.stderr).toContain('kafka-versions');
  });

  it("passes a command its arguments: a command's own usage error is exit 2 with its usage", async () => {
    const bad = await runBuiltCli(['topics', 'drop'], ctx().env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: triggers topics apply | list');
    const listed = await runBuiltCli(['topics', 'list'], ctx().env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(ctx().config.kafka.topics.webhookCommands);
  });

  it('checks the running broker against the client', async () => {
    const checked = await runBuiltCli(['kafka-versions'], ctx().env);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/Produce\s/);
  });

  it('needs nothing the image leaves out: every package the built code loads is a production dependency', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const builtin = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of jsFiles(join(repoRoot(), 'dist'))) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/require\("([^"./][^"]*)"\)/g)) {
        if (spec.startsWith('node:') || builtin.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!(name in pkg.dependencies)) missing.add(`${name} (${relative(repoRoot(), file)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
