import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Put, Query, UseGuards, UseInterceptors } from '@nestjs/common';
import { ETagInterceptor } from '../http/etag.interceptor';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@triggers/access';
import { isPlainObject as isObject } from '@triggers/contracts';
import { explain, normaliseEventType, validateTrigger } from '@triggers/rules';
import { ApiError, invalidTrigger } from '../http/api-errors';
import { DeliveryStatsService } from '../stats/delivery-stats.service';
import { TriggerService } from './trigger.service';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from '../http/api-key.guard';
import { ErrorResponse, EvaluateBody, EvaluateStoredBody, TriggerBody } from '../http/dto';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';
import { expectedVersion, parseBool, parseLimit } from '../http/query';

function readEvent(raw: unknown): { type: string; payload: Record<string, unknown> } {
  if (!isObject(raw) || typeof raw.type !== 'string' || !isObject(raw.payload)) {
    throw new ApiError(400, 'invalid event', [{ path: 'event', message: 'give the event as {"type": "<event type>", "payload": {...}}' }]);
  }
  return { type: raw.type, payload: raw.payload };
}

/** The spec's "Integration > Triggers" module over HTTP. */
@ApiTags('triggers')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'No, unknown or revoked API key', type: ErrorResponse })
@ApiResponse({ status: 403, description: 'The key lacks the needed permission', type: ErrorResponse })
@ApiResponse({ status: 429, description: 'Too many requests for this key' })
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@UseInterceptors(ETagInterceptor)
@Controller('v1/triggers')
export class TriggersController {
  constructor(
    private readonly triggers: TriggerService,
    private readonly stats: DeliveryStatsService,
  ) {}

  @Post()
  @RequirePermission('triggers:write')
  @ApiOperation({
    summary: 'Create a trigger',
    description:
      'Answers 400 with one of the spec\'s four messages ("Invalid JSON format", "Actions object error", "Invalid action parameters", "Error when saving trigger") and details. A webhook trigger gets a signing secret, shown only in this response.',
  })
  @ApiBody({ type: TriggerBody })
  @ApiResponse({ status: 201, description: 'Trigger has been updated' })
  @ApiResponse({ status: 400, type: ErrorResponse })
  create(@CurrentCaller() caller: Caller, @Body() body: TriggerBody) {
    return this.triggers.create(caller, body ?? {});
  }

  @Get()
  @RequirePermission('triggers:read')
  @ApiOperation({
    summary: 'List triggers',
    description:
      'Oldest first, `limit` per page (default 50); pass `nextCursor` as `cursor` for the next page. Each trigger carries `deliveries24h`: its attempts delivered and failed, webhooks given up and success ratio over the last 24 hours (the 24-hour stats\' window), and `lastDelivery`: the last step its actions logged (logId, time, step, status, responseStatus), or null. Both are null when they cannot be read. `endpointHealth` is the webhook endpoint\'s health: `{state: "failing" | "healthy", since, message}` (see PUT /v1/tenant/notifications).',
  })
  async list(
    @CurrentCaller() caller: Caller,
    @Query('eventType') eventType?: string,
    @Query('enabled') enabled?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    const type = eventType ? normaliseEventType(eventType) : undefined;
    if (eventType && !type) throw new ApiError(400, 'invalid query', [{ path: 'eventType', message: `unknown event type "${eventType}"` }]);
    const page = await this.triggers.list(caller, { eventType: type, enabled: parseBool(enabled, 'enabled'), limit: parseLimit(limit), cursor });
    // Each trigger's last 24 hours and last step, from one query; the list still answers when they cannot be read.
    const ids = page.items.map((t) => t.id);
    const [health, endpoints] = await Promise.all([
      this.stats.health(caller.tenantId, ids).catch(() => null),
      this.stats.endpointHealth(caller.tenantId, ids).catch(() => null),
    ]);
    return {
      ...page,
      items: page.items.map((t) => ({
        ...t,
        deliveries24h: health?.get(t.id)?.deliveries24h ?? null,
        lastDelivery: health?.get(t.id)?.lastDelivery ?? null,
        endpointHealth: endpoints?.get(t.id) ?? null,
      })),
    };
  }

  @Post('evaluate')
  @HttpCode(200)
  @RequirePermission('triggers:read')
  @ApiOperation({
    summary: 'Try a trigger on an event (dry run)',
    description: 'Each condition with what the payload holds and whether it passed. No side effects.',
  })
  @ApiBody({ type: EvaluateBody })
  evaluate(@Body() body: EvaluateBody) {
    const input = isObject(body?.trigger) ? body.trigger : {};
    const result = validateTrigger({ name: 'evaluate', enabled: true, ...input });
    if (!result.ok) throw invalidTrigger(result);
    return { ...explain(result.trigger, readEvent(body?.event)), warnings: result.warnings };
  }

  @Get(':id')
  @RequirePermission('triggers:read')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    const trigger = TriggerService.view(await this.triggers.get(caller, id));
    const endpoints = await this.stats.endpointHealth(caller.tenantId, [id]).catch(() => null);
    return { ...trigger, endpointHealth: endpoints?.get(id) ?? null };
  }

  @Put(':id')
  @RequirePermission('triggers:write')
  @ApiOperation({ summary: 'Replace a trigger', description: 'Send If-Match: <version> (or a version field) to refuse a stale write with 409.' })
  @ApiBody({ type: TriggerBody })
  replace(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: TriggerBody, @Headers('if-match') ifMatch?: string) {
    return this.triggers.update(caller, id, body ?? {}, { expectedVersion: expectedVersion(ifMatch, body?.version), partial: false });
  }

  @Patch(':id')
  @RequirePermission('triggers:write')
  @ApiOperation({ summary: 'Change some fields of a trigger', description: 'e.g. {"enabled": false}' })
  @ApiBody({ type: TriggerBody })
  patch(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: Partial<TriggerBody>, @Headers('if-match') ifMatch?: string) {
    return this.triggers.update(caller, id, body ?? {}, { expectedVersion: expectedVersion(ifMatch, body?.version), partial: true });
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('triggers:write')
  async remove(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.triggers.remove(caller, id, expectedVersion(ifMatch, undefined));
  }

  @Post(':id/evaluate')
  @HttpCode(200)
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: 'Try a stored trigger on an event (dry run)' })
  @ApiBody({ type: EvaluateStoredBody })
  async evaluateStored(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: EvaluateStoredBody) {
    const doc = await this.triggers.get(caller, id);
    return explain(
      { name: doc.name, eventType: doc.eventType, enabled: doc.enabled, conditions: doc.conditions, actions: doc.actions },
      readEvent(body?.event),
    );
  }

  @Post(':id/secrets\\:rotate')
  @HttpCode(200)
  @RequirePermission('triggers:write')
  @ApiOperation({
    summary: 'Rotate the webhook signing secret',
    description: 'The new secret is shown once; the old one stays valid for the overlap (24 h by default), and deliveries carry both signatures meanwhile.',
  })
  rotate(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    return this.triggers.rotateSecret(caller, id);
  }
}
