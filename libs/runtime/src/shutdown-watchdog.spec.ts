import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Runs `body` in a fresh Node.js process with the watchdog module loaded as `watchdog`. */
function run(body: string) {
  const module = join(__dirname, 'shutdown-watchdog.ts');
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', `const watchdog = require(${JSON.stringify(module)}); ${body}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('the shutdown watchdog', () => {
  it('kills a process whose main thread no longer yields, and logs where it was', () => {
    const result = run(`watchdog.startShutdownWatchdog('dispatcher', 300); function spinForever() { for (;;); } spinForever();`);
    expect(result.signal).toBe('SIGKILL');
    const line = JSON.parse(result.stderr.split('\n').find((l) => l.includes('"level":"fatal"'))!);
    expect(line).toMatchObject({ level: 'fatal', app: 'dispatcher', timeoutMs: 300 });
    expect(line.mainThreadStack[0]).toMatch(/^spinForever /);
  });

  it('neither holds up nor kills a process that ends by itself', () => {
    const started = Date.now();
    const result = run(`watchdog.startShutdownWatchdog('dispatcher', 5000); setTimeout(() => undefined, 100);`);
    expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
