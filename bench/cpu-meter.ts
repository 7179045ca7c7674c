import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (100 on almost every Linux). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux); NaN where unknown. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 3, utime field 14 and stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * The CPU each named process spends over one measured stretch, so a figure can say where a
 * machine's cores went: the app, the receivers, the broker. Per unit of work it is independent of
 * how many cores the machine has and of what else shares them.
 */
export class CpuMeter {
  private readonly startedAt: Record<string, number>;

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.startedAt = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid ? cpuSecondsOf(pid) : NaN]));
  }

  /** Microseconds of CPU per unit of work since construction, by process and in total. */
  perUnit(units: number): Record<string, number> {
    const out: Record<string, number> = {};
    let total = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      const used = pid ? cpuSecondsOf(pid) - this.startedAt[name] : NaN;
      if (!Number.isFinite(used)) continue;
      out[name] = Math.round((used / units) * 1e6);
      total += out[name];
    }
    out.total = total;
    return out;
  }
}
