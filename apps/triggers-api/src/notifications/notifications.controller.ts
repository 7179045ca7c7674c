import { Body, Controller, Get, Inject, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessStore, type Caller } from '@triggers/access';
import { isPlainObject as isObject } from '@triggers/contracts';
import { ApiError } from '../http/api-errors';
import { ApiKeyGuard, CurrentCaller, RequirePermission } from '../http/api-key.guard';
import { NotificationsBody } from '../http/dto';
import { KeyThrottlerGuard } from '../http/key-throttler.guard';
import { WebhookUrls } from '../http/webhook-urls';

const MAX_URL_LENGTH = 2048;

/** Where a tenant hears that a trigger's endpoint is failing, has recovered, or had webhooks given up. */
@ApiTags('notifications')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
@Controller('v1/tenant/notifications')
export class NotificationsController {
  constructor(
    @Inject(AccessStore) private readonly access: AccessStore,
    private readonly urls: WebhookUrls,
  ) {}

  @Get()
  @RequirePermission('triggers:read')
  @ApiOperation({ summary: "The tenant's notifications URL", description: '`{url}`, null when none is set.' })
  async get(@CurrentCaller() caller: Caller): Promise<{ url: string | null }> {
    return { url: await this.access.notificationsUrlOf(caller.tenantId) };
  }

  @Put()
  @RequirePermission('triggers:write')
  @ApiOperation({
    summary: "Sets the tenant's notifications URL",
    description:
      "Each trigger's webhook endpoint health is told there once per change: `trigger.endpoint.failing` (5 failed attempts in a row, or under half delivered over 15 minutes with at least 10 attempts), `trigger.endpoint.recovered` (delivered again), and `trigger.webhook.gave_up` (at most one per trigger per 10 minutes, with the count). They are webhooks like any other: `{type, payload}`, signed with the trigger's signing secret (Standard Webhooks), retried, in the trigger's Event Logs. `{\"url\": null}` stops them.",
  })
  @ApiBody({ type: NotificationsBody })
  async put(@CurrentCaller() caller: Caller, @Body() body: NotificationsBody): Promise<{ url: string | null; warnings: string[] }> {
    if (!isObject(body) || !('url' in body) || (body.url !== null && typeof body.url !== 'string')) {
      throw new ApiError(400, 'invalid notifications settings', [{ path: 'url', message: 'give {"url": "https://..."} or {"url": null}' }]);
    }
    const url = body.url === null ? null : body.url.trim();
    let warnings: string[] = [];
    if (url !== null) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || url.length > MAX_URL_LENGTH) {
        throw new ApiError(400, 'invalid notifications settings', [{ path: 'url', message: `must be an http(s) URL of at most ${MAX_URL_LENGTH} characters` }]);
      }
      warnings = await this.urls.check([{ path: 'url', url }]);
    }
    if (!(await this.access.setNotificationsUrl(caller.tenantId, url))) throw new ApiError(404, `tenant ${caller.tenantId} not found`);
    return { url, warnings };
  }
}
