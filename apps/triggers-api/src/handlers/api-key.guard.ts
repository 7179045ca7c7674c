import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AccessStore, Caller, Permission } from '@triggers/access';
import { ApiError } from '../services/api-errors';

const PERMISSION = 'triggers:permission';

/** The permission a route needs (`triggers:read` or `triggers:write`). */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION, permission);

/** The verified caller of the request. */
export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => ctx.switchToHttp().getRequest().caller);

/**
 * `Authorization: Bearer <key>`: no key or an unknown, malformed or revoked one → 401; a key
 * without the route's permission → 403. The caller's tenant then scopes every query.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AccessStore) private readonly access: AccessStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const header = String(request.headers.authorization ?? '');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'missing API key: send "Authorization: Bearer <key>"');
    const caller = await this.access.verifyKey(match[1]);
    if (!caller) throw new ApiError(401, 'invalid or revoked API key');
    request.caller = caller;
    const needed = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION, [context.getHandler(), context.getClass()]);
    if (needed && !caller.permissions.includes(needed)) {
      throw new ApiError(403, `this API key lacks the ${needed} permission`);
    }
    return true;
  }
}
