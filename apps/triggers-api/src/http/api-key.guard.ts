import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import { AccessStore, Caller, Permission } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import { APP_CONFIG } from '@triggers/runtime';
import { ApiError } from './api-errors';

const PERMISSION = 'triggers:permission';

/** The permission a route needs (`triggers:read` or `triggers:write`). */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION, permission);

/** The verified caller of the request. */
export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => ctx.switchToHttp().getRequest().caller);

/** How long a key that did not verify is remembered as unknown (no database lookup meanwhile). */
const UNKNOWN_KEY_TTL_MS = 60_000;
const MAX_REMEMBERED = 10_000;

/**
 * `Authorization: Bearer <key>`: no key or an unknown, malformed or revoked one → 401; a key
 * without the route's permission → 403. The caller's tenant then scopes every query. An address
 * that fails to authenticate more than API_AUTH_FAILURES_PER_MINUTE times a minute gets 429 with
 * `Retry-After` before anything is looked up, and keys that did not verify are remembered for a
 * minute, so a flood of made-up keys costs no database lookups.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** sha256 of a presented key that did not verify → until when it is known to be unknown. */
  private readonly unknownKeys = new Map<string, number>();
  /** Failed authentications by address in the current minute. */
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(AccessStore) private readonly access: AccessStore,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const now = Date.now();
    const ip = String(request.ip ?? '');
    const failed = this.failures.get(ip);
    if (failed && failed.resetAt > now && failed.count >= this.config.authFailuresPerMinute) {
      const retryAfter = Math.ceil((failed.resetAt - now) / 1000);
      context.switchToHttp().getResponse().setHeader('Retry-After', String(retryAfter));
      throw new ApiError(429, `too many failed authentications from this address; retry after ${retryAfter} s`);
    }
    const header = String(request.headers.authorization ?? '');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw this.failure(ip, now, 'missing API key: send "Authorization: Bearer <key>"');
    const digest = createHash('sha256').update(match[1]).digest('hex');
    if ((this.unknownKeys.get(digest) ?? 0) > now) throw this.failure(ip, now, 'invalid or revoked API key');
    const caller = await this.access.verifyKey(match[1]);
    if (!caller) {
      if (this.unknownKeys.size >= MAX_REMEMBERED) this.unknownKeys.clear();
      this.unknownKeys.set(digest, now + UNKNOWN_KEY_TTL_MS);
      throw this.failure(ip, now, 'invalid or revoked API key');
    }
    request.caller = caller;
    const needed = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION, [context.getHandler(), context.getClass()]);
    if (needed && !caller.permissions.includes(needed)) {
      throw new ApiError(403, `this API key lacks the ${needed} permission`);
    }
    return true;
  }

  /** Counts a failed authentication of `ip` and returns the 401 to throw. */
  private failure(ip: string, now: number, message: string): ApiError {
    const entry = this.failures.get(ip);
    if (!entry || entry.resetAt <= now) {
      if (this.failures.size >= MAX_REMEMBERED) this.failures.clear();
      this.failures.set(ip, { count: 1, resetAt: now + 60_000 });
    } else entry.count++;
    return new ApiError(401, message);
  }
}
