import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { EVENT_TYPE_IDS } from '@triggers/contracts';

const PARAMETERS_EXAMPLE = {
  conditions: [{ reference: 'campaignId', operator: 'in', value: '215,223' }],
  actions: [{ action: 'webhook', parameters: { url: 'https://your.webservice.com' } }],
};

/** A trigger as a tenant submits it (create, replace, or the fields a patch changes). */
export class TriggerBody {
  @ApiProperty({ example: 'Send Webhook on Agent Wrap' })
  name!: string;

  @ApiProperty({ enum: EVENT_TYPE_IDS, description: 'An event type id, or its display name ("Agent Wrap")' })
  eventType!: string;

  @ApiPropertyOptional({ default: false })
  enabled?: boolean;

  @ApiProperty({
    description: 'The conditions and actions, as an object or as the JSON text typed into the parameters field',
    oneOf: [{ type: 'object' }, { type: 'string' }],
    example: PARAMETERS_EXAMPLE,
  })
  parameters!: unknown;

  @ApiPropertyOptional({ description: 'The version this change is based on (or send If-Match); a stale one is refused with 409' })
  version?: number;
}

/** An event in the spec's webhook shape. */
export class EventBody {
  @ApiProperty({ enum: EVENT_TYPE_IDS })
  type!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  payload!: Record<string, unknown>;
}

/** A trigger and an event to try it on. */
export class EvaluateBody {
  @ApiProperty({ type: TriggerBody })
  trigger!: TriggerBody;

  @ApiProperty({ type: EventBody })
  event!: EventBody;
}

/** An event to try a stored trigger on. */
export class EvaluateStoredBody {
  @ApiProperty({ type: EventBody })
  event!: EventBody;
}

/** Optional payload for a test send; the spec's sample of the trigger's event type by default. */
export class TestSendBody {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  payload?: Record<string, unknown>;
}

/** Which failed webhooks to redeliver in bulk. */
export class BulkRedeliverBody {
  @ApiProperty({ enum: ['failed', 'gave_up'], description: 'failed: commands with a failed attempt in the range; gave_up: commands given up in it' })
  status!: 'failed' | 'gave_up';

  @ApiProperty({ example: '2026-11-28T00:00:00Z' })
  from!: string;

  @ApiProperty({ example: '2026-11-29T00:00:00Z' })
  to!: string;
}

/** The error shape of every failure. */
export class ErrorResponse {
  @ApiProperty({ example: 'Invalid action parameters' })
  error!: string;

  @ApiPropertyOptional({ example: [{ path: 'parameters.actions[0].parameters.url', message: 'url must be an absolute http(s) URL' }] })
  details?: { path: string; message: string }[];

  @ApiPropertyOptional()
  requestId?: string;
}

export class NotificationsBody {
  @ApiProperty({
    nullable: true,
    example: 'https://hooks.example.com/triggers-notifications',
    description: 'Where endpoint health notifications go (trigger.endpoint.failing, trigger.endpoint.recovered, trigger.webhook.gave_up); null stops them',
  })
  url!: string | null;
}
