import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@triggers/access';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from '../http/api-key.guard';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';
import { TriggerRepository } from '../trigger-store/trigger.repository';
import { DeliveryStatsService } from './delivery-stats.service';

/** A trigger's delivery health. */
@ApiTags('triggers')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller('v1/triggers')
export class StatsController {
  constructor(
    private readonly triggers: TriggerRepository,
    private readonly stats: DeliveryStatsService,
  ) {}

  @Get(':id/stats')
  @RequirePermission('triggers:read')
  @ApiOperation({
    summary: 'Delivery health of a trigger',
    description:
      'Over the last 24h (default) or 7d: attempts delivered and failed, retries waiting, webhooks given up, the success ratio (delivered ÷ attempts), p50/p95 latency of delivered attempts, and attempts by outcome per hour (24h) or 6 hours (7d).',
  })
  async statsOf(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query('window') window?: string) {
    const w = DeliveryStatsService.window(window);
    await this.triggers.get(caller, id);
    return this.stats.stats(caller.tenantId, id, w);
  }
}
