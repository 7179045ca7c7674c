import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Message } from 'kafkajs';
import { Counter } from 'prom-client';
import type { LeadMoverConfig } from '@triggers/config';
import { HEADERS, LeadCommand, logIdFor, newLogRecord, triggerKey } from '@triggers/contracts';
import { classify } from '@triggers/errors';
import { BatchConsumer, BatchProgress, DecodedMessage, MessageSource } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { kafkaProcessAttributes } from '@triggers/tracing';
import { LEADS_STORE, LeadsStore } from '../services/leads.store';
import { LeadMoveOutcome, applyLeadMove } from '../services/lead-move.service';

/** Outcomes are recorded (and their commands committed) at least every this many commands... */
const RECORD_EVERY = 100;
/** ...and at least this often. */
const RECORD_EVERY_MS = 1000;

/**
 * Reads lead commands (`read_committed`; keyed by lead, so one lead's moves come in order) one
 * partition batch at a time, applies them in order and logs each outcome. When the leads store
 * is unreachable the batch stops at that command, logs `lead.failed` once, and its engine waits
 * and tries again from there: nothing after it is applied and no offset moves past it until the
 * store answers.
 */
@Injectable()
export class LeadCommandHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: BatchConsumer<LeadCommand>;
  private readonly failedLogged = new Set<string>();
  private readonly outcomes: Counter<'outcome'>;

  constructor(
    @Inject(LEADS_STORE) private readonly store: LeadsStore,
    private readonly rt: AppRuntime<LeadMoverConfig>,
  ) {
    this.outcomes = new Counter({ name: 'triggers_lead_commands_total', help: 'Lead commands by outcome', labelNames: ['outcome'], registers: [rt.metrics] });
    rt.health.register(
      consumerHealthCheck(
        'leadConsumer',
        rt.config.groupId,
        () => this.consumer,
        () => ({ store: rt.config.leadsStore }),
      ),
    );
  }

  /** Starts in the background: /healthz answers while Kafka or the registry is still down. */
  onApplicationBootstrap(): void {
    this.consumer = new BatchConsumer<LeadCommand>({
      ...this.rt.consuming('leadCommands', this.rt.config.groupId),
      handle: (records, source, progress) => this.handle(records, source, progress),
    });
    void this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
    await this.store.close();
  }

  /**
   * Applies the batch's commands in order. Outcomes are recorded in groups (every
   * {@link RECORD_EVERY} commands or {@link RECORD_EVERY_MS}) and the engine is told those are
   * done, so a crash replays little; a replayed command that had moved its lead records the same
   * `lead.moved` again (same log id), never a noop. Heartbeats go between commands, so a slow
   * store never costs the group membership.
   */
  private async handle(records: DecodedMessage<LeadCommand>[], source: MessageSource, progress: BatchProgress): Promise<void> {
    const logs: Message[] = [];
    let lastApplied: string | undefined;
    let since = Date.now();
    const record = async () => {
      if (logs.length > 0) await this.consumer!.producer.send({ topic: this.rt.config.kafka.topics.log, messages: logs.splice(0) });
      if (lastApplied !== undefined) progress.done(lastApplied);
      since = Date.now();
    };
    for (const { value: command, message: m } of records) {
      const ctx = {
        ...source,
        offset: m.offset,
        tenantId: command.tenantId,
        commandId: command.commandId,
        leadId: command.leadId,
        correlationId: command.eventId,
      };
      // Each move continues the trace its command carries (its event's match).
      const span = this.rt.tracing.startSpan('lead.update.list', {
        parent: m.headers,
        attributes: {
          ...kafkaProcessAttributes(source, m.offset),
          'triggers.tenant_id': command.tenantId,
          'triggers.command_id': command.commandId,
          'triggers.lead_id': command.leadId,
          'triggers.to_list_id': command.toListId,
        },
      });
      let outcome: LeadMoveOutcome;
      try {
        outcome = await span.run(() => applyLeadMove(this.store, command));
      } catch (err) {
        span.fail(classify(err).kind, (err as Error).message);
        span.end();
        // What came before this command is recorded first; the engine then waits out a store
        // that is down, or dead-letters a command that is itself bad.
        if (classify(err).kind !== 'poison' && !this.failedLogged.has(command.commandId)) {
          this.failedLogged.add(command.commandId);
          logs.push(await this.log(command, { step: 'lead.failed', status: 'failed', message: `failed, will retry: ${(err as Error).message}` }, span.traceId));
        }
        this.rt.logger.warn({ ...ctx, err: (err as Error).message }, 'lead command not applied; the batch goes on from this command');
        await record();
        this.outcomes.inc({ outcome: 'failed' });
        throw err;
      }
      span.setAttributes({ 'triggers.outcome': outcome.step });
      span.end();
      logs.push(await this.log(command, outcome, span.traceId));
      this.outcomes.inc({ outcome: outcome.step.replace('lead.', '') });
      this.failedLogged.delete(command.commandId);
      lastApplied = m.offset;
      span.run(() => this.rt.logger.info({ ...ctx, outcome: outcome.step, message: outcome.message }, 'lead command applied'));
      if (logs.length >= RECORD_EVERY || Date.now() - since >= RECORD_EVERY_MS) await record();
      await progress.heartbeat();
    }
    await record();
  }

  private async log(c: LeadCommand, outcome: { step: string; status: LeadMoveOutcome['status']; message: string }, traceId: string): Promise<Message> {
    const record = newLogRecord({
      logId: logIdFor(c.commandId, outcome.step),
      tenantId: c.tenantId,
      triggerId: c.triggerId,
      eventId: c.eventId,
      eventType: c.eventType,
      commandId: c.commandId,
      step: outcome.step,
      status: outcome.status,
      time: Date.now(),
      message: outcome.message,
      traceId,
    });
    return { key: triggerKey(c.tenantId, c.triggerId), value: await this.rt.serde.encode('log', record), headers: { [HEADERS.correlationId]: c.eventId } };
  }
}
