import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EVENT_TYPES, EVENT_TYPE_IDS, sampleEvent } from '@triggers/contracts';
import { ApiKeyGuard, RequirePermission } from '../http/api-key.guard';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';

/** The six event types with the spec's sample of each, for forms and "try it". */
@ApiTags('triggers')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller('v1/event-types')
export class EventTypesController {
  @Get()
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: "The event types a trigger can listen to, each with the spec's sample event" })
  list() {
    return { items: EVENT_TYPE_IDS.map((id) => ({ id, displayName: EVENT_TYPES[id].displayName, sample: sampleEvent(id) })) };
  }
}
