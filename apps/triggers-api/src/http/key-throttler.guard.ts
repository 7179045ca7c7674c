import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerLimitDetail } from '@nestjs/throttler/dist/throttler.guard.interface';
import type { Caller } from '@triggers/access';

/**
 * Rate limits by who is calling, once the API key is verified (it runs after ApiKeyGuard): the
 * `key` throttler counts per key id (however the header is spelled: `bearer  <key>` is the same
 * key), the `tenant` throttler per tenant across its keys. Counts are per minute across all
 * routes. A 429 carries `Retry-After` in seconds.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  // The throttler's own signature types the request as Record<string, any>; this reads two fields of it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const caller = req.caller as Caller | undefined;
    return caller ? `${caller.keyId}|${caller.tenantId}` : `ip|${req.ip}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    const [key, tenant] = tracker.split('|');
    return name === 'tenant' ? `tenant:${tenant}` : `key:${key}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const res = context.switchToHttp().getResponse();
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(detail.timeToBlockExpire))));
    const who = detail.key.startsWith('tenant:') ? 'this tenant' : 'this API key';
    throw new ThrottlerException(
      `rate limit: ${detail.limit} requests per minute for ${who}; retry after ${Math.max(1, Math.ceil(detail.timeToBlockExpire))} s`,
    );
  }
}
