import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@triggers/access';
import { isPlainObject as isObject } from '@triggers/contracts';
import { ApiError } from '../http/api-errors';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from '../http/api-key.guard';
import { BulkRedeliverBody, TestSendBody } from '../http/dto';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';
import { TriggerRepository } from '../trigger-store/trigger.repository';
import { BulkRedeliveryService, BulkSelection } from './bulk-redelivery.service';
import { WebhookSends } from './webhook-sends.service';

/** The body of a bulk redelivery: which failures, and their time range (at most 31 days). */
function readBulkRequest(raw: unknown): { status: BulkSelection; from: Date; to: Date } {
  const bad = (path: string, message: string) => new ApiError(400, 'invalid bulk redelivery', [{ path, message }]);
  if (!isObject(raw)) throw bad('body', 'send {"status": "failed" | "gave_up", "from": "<ISO time>", "to": "<ISO time>"}');
  if (raw.status !== 'failed' && raw.status !== 'gave_up') throw bad('status', 'status must be "failed" or "gave_up"');
  const time = (path: 'from' | 'to') => {
    const v = raw[path];
    const d = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? new Date(v) : null;
    if (!d || Number.isNaN(d.getTime())) throw bad(path, `${path} must be an ISO 8601 time, e.g. 2024-05-03T06:41:08Z`);
    return d;
  };
  const from = time('from');
  const to = time('to');
  if (from > to) throw bad('from', 'from is after to');
  if (to.getTime() - from.getTime() > 31 * 24 * 3_600_000) throw bad('from', 'the range may span 31 days at most');
  return { status: raw.status, from, to };
}

/** Every webhook the API sends itself: a test, one logged delivery again, a trigger's failures in bulk (and the bulk jobs' progress). */
@ApiTags('event logs')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller()
export class RedeliveryController {
  constructor(
    private readonly triggers: TriggerRepository,
    private readonly sends: WebhookSends,
    private readonly bulk: BulkRedeliveryService,
  ) {}

  @Post('v1/triggers/:id/test')
  @HttpCode(202)
  @RequirePermission('triggers:write')
  @ApiOperation({
    summary: 'Send a test webhook',
    description: "The sample payload of the trigger's event type (or the one given) goes through the real delivery path, marked as a test in the Event Logs.",
  })
  @ApiBody({ type: TestSendBody, required: false })
  async test(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body?: TestSendBody) {
    const doc = await this.triggers.get(caller, id);
    const payload = body?.payload;
    if (payload !== undefined && !isObject(payload)) throw new ApiError(400, 'invalid payload', [{ path: 'payload', message: 'payload must be an object' }]);
    return this.sends.testSend(doc, payload);
  }

  @Post('v1/event-logs/:logId/redeliver')
  @HttpCode(202)
  @RequirePermission('triggers:write')
  @ApiOperation({ summary: 'Send that webhook again now, as a new command logged as manual' })
  redeliver(@CurrentCaller() caller: Caller, @Param('logId') logId: string) {
    return this.sends.redeliver(caller, logId);
  }

  @Post('v1/triggers/:id/event-logs\\:redeliver')
  @HttpCode(202)
  @RequirePermission('triggers:write')
  @ApiOperation({
    summary: 'Redeliver failed webhooks in bulk',
    description:
      'Every command whose attempts failed (status "failed") or gave up (status "gave_up") between from and to is sent again once, from its latest failed attempt, logged with origin "bulk"; commands delivered since are skipped. Answers a job id; GET /v1/jobs/{jobId} shows its progress. One running job per tenant (409 otherwise).',
  })
  @ApiBody({ type: BulkRedeliverBody })
  async redeliverMany(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body?: BulkRedeliverBody) {
    const request = readBulkRequest(body);
    await this.triggers.get(caller, id);
    return this.bulk.start(caller, id, request);
  }

  @Get('v1/jobs/:jobId')
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: 'A bulk redelivery: running or done, with how many webhooks it redelivered and skipped' })
  job(@CurrentCaller() caller: Caller, @Param('jobId') jobId: string) {
    return this.bulk.get(caller, jobId);
  }
}
