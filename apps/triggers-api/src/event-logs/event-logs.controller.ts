import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@triggers/access';
import { ApiError } from '../http/api-errors';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from '../http/api-key.guard';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';
import { parseDate, parseLimit } from '../http/query';
import { TriggerRepository } from '../trigger-store/trigger.repository';
import { EventLogService } from './event-log.service';

/** The Event Logs: a trigger's rows, and one entry in full. */
@ApiTags('event logs')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller()
export class EventLogsController {
  constructor(
    private readonly triggers: TriggerRepository,
    private readonly eventLogs: EventLogService,
  ) {}

  @Get('v1/triggers/:id/event-logs')
  @RequirePermission('triggers:read')
  @ApiOperation({
    summary: 'Event Logs of a trigger',
    description:
      'Newest first: matches, attempts with status code, duration and error, scheduled retries, outcomes. Filter by status (ok, failed, info) and time.',
  })
  async eventLogsOf(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Query('status') status?: string,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    await this.triggers.get(caller, id);
    if (status && !['ok', 'failed', 'info'].includes(status)) {
      throw new ApiError(400, 'invalid query', [{ path: 'status', message: 'status must be ok, failed or info' }]);
    }
    return this.eventLogs.list(caller, id, { status, from: parseDate(from, 'from'), to: parseDate(to, 'to'), limit: parseLimit(limit), cursor });
  }

  @Get('v1/event-logs/:logId')
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: 'One log entry: request URL, headers (secrets redacted) and body; response status, headers and body (10 kB at most); timings' })
  get(@CurrentCaller() caller: Caller, @Param('logId') logId: string) {
    return this.eventLogs.get(caller, logId);
  }
}
