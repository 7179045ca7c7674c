import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';

/** The trigger a response carries: the body itself, or its `trigger` (a secret rotation). */
const triggerOf = (body: unknown): { id?: unknown; version?: unknown } | undefined => {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { id?: unknown; version?: unknown; trigger?: { id?: unknown; version?: unknown } };
  return typeof b.version === 'number' && typeof b.id === 'string' ? b : b.trigger;
};

/** `ETag: "<version>"` on every response that carries one trigger, for the next `If-Match`. */
@Injectable()
export class ETagInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      tap((body) => {
        const trigger = triggerOf(body);
        if (typeof trigger?.version === 'number' && typeof trigger.id === 'string')
          context.switchToHttp().getResponse().setHeader('ETag', `"${trigger.version}"`);
      }),
    );
  }
}
