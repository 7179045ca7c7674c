import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** True when a process with `pid` exists and its command line contains `marker`. */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc guards against a recycled pid now belonging to something else.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(marker);
  } catch {
    return true;
  }
}

/** Reads a pid file; a missing or unreadable one is `undefined`. */
export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Starts a detached process (its own process group, so stopping it stops its children) with
 * stdout and stderr appended to `logFile`, and records its pid.
 */
export function startDetached(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; pidFile: string }): number {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  mkdirSync(opts.cwd, { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
    if (!child.pid) throw new Error(`could not start ${cmd}`);
    child.unref();
    mkdirSync(dirname(opts.pidFile), { recursive: true });
    writeFileSync(opts.pidFile, String(child.pid));
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Sends SIGTERM to the process group, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stopProcess(pid: number, graceMs: number): Promise<'stopped' | 'killed'> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  // A process that exited is gone even while its parent has not reaped it yet (a zombie): the
  // parent may be the very process waiting here (a test that restarted a server, then a teardown
  // that runs synchronously), and it cannot reap while it waits.
  const alive = () => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return true;
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!alive()) return 'stopped';
  signal('SIGKILL');
  while (alive()) await new Promise((r) => setTimeout(r, 50));
  return 'killed';
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The last `lines` lines of a file, or '' when it does not exist. */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** Removes a file if it exists. */
export function removeFile(file: string): void {
  rmSync(file, { force: true });
}
