import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@triggers/local-infra';

const run = promisify(execFile);

/** What a command-line tool answered: its exit code and output. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run -s <script> -- ...args` from the checkout, as an operator would, with `env` over this process's. */
export async function runNpmScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', script, '--', ...args], { cwd: repoRoot(), env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ToolResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The operator command as the image runs it: compiled, under `dist/` (the test run builds it first). */
export function builtCliPath(): string {
  return join(repoRoot(), 'dist/cli/src/main.js');
}

/** Runs the built `triggers` command (`node dist/cli/src/main.js ...args`), not through tsx, with `env` over this process's. */
export async function runBuiltCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [builtCliPath(), ...args], { cwd: repoRoot(), env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ToolResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
