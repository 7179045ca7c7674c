import { Worker } from 'node:worker_threads';

/**
 * The watchdog's own thread: it runs whatever the main thread is doing. When the shutdown has not
 * ended the process by `ms`, it pauses the main thread through the inspector to read where it is
 * (a thread that never yields runs no timer, so the main thread's own deadline cannot fire), writes
 * one fatal log line with that stack to stderr, and ends the process with SIGKILL. Nothing is lost:
 * the consumers commit in Kafka transactions, and what was not committed is read again.
 */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { Session } = require('node:inspector');
const { app, ms } = workerData;
function end(stack) {
  const line = { level: 'fatal', time: new Date().toISOString(), app, pid: process.pid, timeoutMs: ms, mainThreadStack: stack,
    msg: 'shutdown did not end and the main thread did not yield: killing the process (its uncommitted work is read again)' };
  writeSync(2, JSON.stringify(line) + '\\n');
  process.kill(process.pid, 'SIGKILL');
}
setTimeout(() => {
  const session = new Session();
  let done = false;
  const finish = (stack) => { if (!done) { done = true; end(stack); } };
  setTimeout(() => finish(['the main thread did not pause within 2 s (blocked in native code?)']), 2000);
  try {
    session.connectToMainThread();
    session.on('Debugger.paused', ({ params }) =>
      finish(params.callFrames.slice(0, 20).map((f) => (f.functionName || '(anonymous)') + ' ' + f.url + ':' + (f.location.lineNumber + 1) + ':' + (f.location.columnNumber + 1))));
    session.post('Debugger.enable', () => session.post('Debugger.pause'));
  } catch (err) {
    finish(['the inspector could not reach the main thread: ' + err.message]);
  }
}, ms);
`;

/**
 * Bounds a shutdown even when the main thread stops yielding: from another thread, `ms` after the
 * signal, it logs where the main thread is and kills the process. The main thread's own deadline
 * (an orderly `exit 1` with its log line) comes first whenever its event loop still turns.
 */
export function startShutdownWatchdog(app: string, ms: number): void {
  new Worker(WATCHDOG, { eval: true, workerData: { app, ms } }).unref();
}
