import { Counter, Registry } from 'prom-client';

/** A dependency a consumer is waiting for, since when, and the last error it gave. */
export interface Waiting {
  dependency: string;
  since: string;
  kind: 'transient' | 'fatal';
  error: string;
}

const counter = (registry: Registry, name: string, help: string, labelNames: string[]): Counter =>
  (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });

/**
 * What one consumer engine reports about itself, for /healthz, /livez and /metrics: the
 * dependencies it is waiting for (a message held back, never discarded), whether it is alive
 * (a consumer its engine could not restart is not), and counters of dead letters, waits and
 * restarts (`triggers_consumer_*_total`, labelled by group).
 */
export class ConsumerStatus {
  private readonly waits = new Map<string, Waiting>();
  private dead?: string;
  private readonly deadLetters?: Counter;
  private readonly transientWaits?: Counter;
  private readonly restarts?: Counter;

  constructor(
    readonly groupId: string,
    registry?: Registry,
  ) {
    if (registry) {
      this.deadLetters = counter(registry, 'triggers_consumer_dead_letters_total', 'Messages dead-lettered as poison, by group and error class', [
        'group',
        'error',
      ]);
      this.transientWaits = counter(
        registry,
        'triggers_consumer_waits_total',
        'Backoff steps taken while a dependency was down, by group, dependency and kind',
        ['group', 'dependency', 'kind'],
      );
      this.restarts = counter(registry, 'triggers_consumer_restarts_total', 'Consumers restarted by their engine after stopping', ['group']);
    }
  }

  /** A backoff step while `dependency` does not answer. */
  waiting(dependency: string, kind: 'transient' | 'fatal', error: string): void {
    const known = this.waits.get(dependency);
    this.waits.set(dependency, { dependency, kind, error, since: known?.since ?? new Date().toISOString() });
    this.transientWaits?.inc({ group: this.groupId, dependency, kind });
  }

  /** `dependency` answered again. */
  recovered(dependency: string): void {
    this.waits.delete(dependency);
  }

  deadLettered(errorClass: string): void {
    this.deadLetters?.inc({ group: this.groupId, error: errorClass });
  }

  restarted(): void {
    this.restarts?.inc({ group: this.groupId });
  }

  /** The consumer could not be brought back: /livez fails, so the orchestrator restarts the process. */
  gaveUp(reason: string): void {
    this.dead = reason;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Why the consumer is not alive, when it is not. */
  get deathReason(): string | undefined {
    return this.dead;
  }

  /** Dependencies being waited for now. */
  waitingOn(): Waiting[] {
    return [...this.waits.values()];
  }
}
