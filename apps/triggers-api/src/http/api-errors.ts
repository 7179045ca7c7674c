import type { InvalidTrigger } from '@triggers/rules';

/** An error the API answers with a status and a message a tenant admin can act on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 404: also what another tenant's trigger or log looks like, so its existence is not revealed. */
export const notFound = (what: string) => new ApiError(404, `${what} not found`);

/** 409: a write based on a stale version. */
export const staleVersion = (expected: number, current: number) =>
  new ApiError(409, `version conflict: the trigger is at version ${current}, the request was based on version ${expected}`);

/** 400 with the spec's message and a detail per problem. */
export const invalidTrigger = (r: InvalidTrigger) => new ApiError(400, r.error, r.details);
