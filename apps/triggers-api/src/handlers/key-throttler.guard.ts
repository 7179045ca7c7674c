import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';

/**
 * Rate limits per API key (the hash of the presented credential), or per address for requests
 * without one, so one tenant's script cannot starve the others.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const auth = req.headers?.authorization;
    if (typeof auth === 'string' && auth.length > 0) return `key:${createHash('sha256').update(auth).digest('hex')}`;
    return `ip:${req.ip}`;
  }
}
