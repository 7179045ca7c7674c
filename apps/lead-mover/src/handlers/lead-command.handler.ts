import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Message } from 'kafkajs';
import { Counter } from 'prom-client';
import type { LeadMoverConfig } from '@triggers/config';
import { HEADERS, LeadCommand, logIdFor, newLogRecord, triggerKey } from '@triggers/contracts';
import { classify } from '@triggers/errors';
import { AbandonedError, BatchConsumer, BatchProgress, DecodedMessage, MessageSource } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { kafkaProcessAttributes } from '@triggers/tracing';
import { LEADS_STORE, LeadsStore, isBulkLeadsStore } from '../services/leads.store';
import { LeadMoveOutcome, applyLeadMove, applyLeadMoves } from '../services/lead-move.service';

/** Commands judged together, and outcomes recorded (their commands committed) at least every this many commands... */
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
   * Applies the batch's commands in order, in runs of {@link RECORD_EVERY} when the store moves
   * leads in bulk (one read of the run's leads, one of its lists, one write per moved lead), else
   * one by one. Outcomes are recorded in groups (every {@link RECORD_EVERY} commands or
   * {@link RECORD_EVERY_MS}) and the engine is told those are done, so a crash replays little; a
   * replayed command that had moved its lead records the same `lead.moved` again (same log id),
   * never a noop. Heartbeats go between runs, so a slow store never costs the group membership.
   */
  private async handle(records: DecodedMessage<LeadCommand>[], source: MessageSource, progress: BatchProgress): Promise<void> {
    const store = this.store;
    const [runSize, apply] = isBulkLeadsStore(store)
      ? [RECORD_EVERY, (commands: LeadCommand[]) => applyLeadMoves(store, commands, progress.heartbeat)]
      : [1, async (commands: LeadCommand[]) => [await applyLeadMove(store, commands[0])]];
    const logs: Message[] = [];
    let lastApplied: string | undefined;
    let since = Date.now();
    const record = async () => {
      if (logs.length > 0) await this.consumer!.producer.send({ topic: this.rt.config.kafka.topics.log, messages: logs.splice(0) });
      if (lastApplied !== undefined) progress.done(lastApplied);
      since = Date.now();
    };
    for (let start = 0; start < records.length; start += runSize) {
      const run = records.slice(start, start + runSize);
      // Each move continues the trace its command carries (its event's match).
      const spans = run.map(({ value: c, message: m }) =>
        this.rt.tracing.startSpan('lead.update.list', {
          parent: m.headers,
          attributes: () => ({
            ...kafkaProcessAttributes(source, m.offset),
            'triggers.tenant_id': c.tenantId,
            'triggers.command_id': c.commandId,
            'triggers.lead_id': c.leadId,
            'triggers.to_list_id': c.toListId,
          }),
        }),
      );
      let outcomes: LeadMoveOutcome[];
      try {
        outcomes = await apply(run.map((r) => r.value));
      } catch (err) {
        const { kind, rebalance } = classify(err);
        if (err instanceof AbandonedError || rebalance) {
          // A rebalance: what was recorded stays; the partition's next owner applies the rest (idempotently).
          for (const span of spans) span.end();
          await record();
          throw err;
        }
        for (const span of spans) {
          span.fail(kind, (err as Error).message);
          span.end();
        }
        // What came before this run is recorded first; the engine then waits out a store that
        // is down from the run's first command, or judges a poison run command by command.
        const { value: first, message: m } = run[0];
        if (kind !== 'poison' && !this.failedLogged.has(first.commandId)) {
          this.failedLogged.add(first.commandId);
          logs.push(
            await this.log(first, { step: 'lead.failed', status: 'failed', message: `failed, will retry: ${(err as Error).message}` }, spans[0].traceId),
          );
        }
        this.rt.logger.warn(
          {
            ...spans[0].logFields(),
            ...source,
            offset: m.offset,
            tenantId: first.tenantId,
            commandId: first.commandId,
            leadId: first.leadId,
            commands: run.length,
            err: (err as Error).message,
          },
          'lead commands not applied; the batch goes on from the first of them',
        );
        await record();
        this.outcomes.inc({ outcome: 'failed' });
        throw err;
      }
      for (const [i, { value: command, message: m }] of run.entries()) {
        const outcome = outcomes[i];
        spans[i].setAttributes({ 'triggers.outcome': outcome.step });
        spans[i].end();
        logs.push(await this.log(command, outcome, spans[i].traceId));
        this.outcomes.inc({ outcome: outcome.step.replace('lead.', '') });
        this.failedLogged.delete(command.commandId);
        this.rt.logger.info(
          {
            ...spans[i].logFields(),
            ...source,
            offset: m.offset,
            tenantId: command.tenantId,
            commandId: command.commandId,
            leadId: command.leadId,
            correlationId: command.eventId,
            outcome: outcome.step,
            message: outcome.message,
          },
          'lead command applied',
        );
      }
      lastApplied = run[run.length - 1].message.offset;
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
