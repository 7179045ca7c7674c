import { Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@triggers/access';
import { BulkRedeliveryService } from '../services/bulk-redelivery.service';
import { EventLogService } from '../services/event-log.service';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from './api-key.guard';
import { KeyThrottlerGuard } from './key-throttler.guard';

/** One Event Logs entry in full, and its manual redelivery. */
@ApiTags('event logs')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller('v1/event-logs')
export class EventLogsController {
  constructor(private readonly eventLogs: EventLogService) {}

  @Get(':logId')
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: 'One log entry: request URL, headers (secrets redacted) and body; response status, headers and body (10 kB at most); timings' })
  get(@CurrentCaller() caller: Caller, @Param('logId') logId: string) {
    return this.eventLogs.get(caller, logId);
  }

  @Post(':logId/redeliver')
  @HttpCode(202)
  @RequirePermission('triggers:write')
  @ApiOperation({ summary: 'Send that webhook again now, as a new command logged as manual' })
  redeliver(@CurrentCaller() caller: Caller, @Param('logId') logId: string) {
    return this.eventLogs.redeliver(caller, logId);
  }
}

/** Background jobs (bulk redeliveries) and their progress. */
@ApiTags('event logs')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly bulk: BulkRedeliveryService) {}

  @Get(':jobId')
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: 'A bulk redelivery: running or done, with how many webhooks it redelivered and skipped' })
  get(@CurrentCaller() caller: Caller, @Param('jobId') jobId: string) {
    return this.bulk.get(caller, jobId);
  }
}
