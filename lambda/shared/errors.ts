import type { FieldError, ProblemKind } from '../../contract/problems';

/**
 * Typed domain errors. Domain code throws these; `toProblem` maps them to HTTP in one place.
 * Their messages are written for the API client: never put secrets or internals in them.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: ProblemKind,
    message: string,
    readonly extra: {
      readonly errors?: readonly FieldError[];
      readonly headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends DomainError {
  constructor(message: string) {
    super('badRequest', message);
  }
}

/** How many field errors the detail spells out (all of them are in `errors`). */
const DETAILED_FIELDS = 3;

export class ValidationError extends DomainError {
  constructor(errors: readonly FieldError[]) {
    // The detail names the fields and says what is wrong, so a client that shows only `detail` (Uppy shows the
    // error's message) still tells its user why.
    const named = errors.slice(0, DETAILED_FIELDS).map((e) => `${e.path || e.in} ${e.message}`);
    const more = errors.length > DETAILED_FIELDS ? `; and ${errors.length - DETAILED_FIELDS} more` : '';
    super(
      'validation',
      `${errors.length} field${errors.length === 1 ? '' : 's'} failed validation: ${named.join('; ')}${more}. See errors.`,
      { errors },
    );
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'A valid access token is required.') {
    super('unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do this.') {
    super('forbidden', message);
  }
}

export class NotFoundError extends DomainError {
  constructor(message = 'No such resource.') {
    super('notFound', message);
  }
}

export class MethodNotAllowedError extends DomainError {
  constructor(allowed: readonly string[]) {
    super('methodNotAllowed', `This resource supports ${allowed.join(', ')}.`, {
      headers: { Allow: allowed.join(', ') },
    });
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super('payloadTooLarge', message);
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  constructor(message = 'Send the body as application/json.') {
    super('unsupportedMediaType', message);
  }
}

export class NotAcceptableError extends DomainError {
  constructor(message = 'This API answers application/json and application/problem+json only.') {
    super('notAcceptable', message);
  }
}

/** A dependency (the database, S3, Cognito) is unreachable; the client should retry later. */
export class ServiceUnavailableError extends DomainError {
  constructor(message: string, retryAfterSeconds = 5) {
    super('serviceUnavailable', message, { headers: { 'Retry-After': String(retryAfterSeconds) } });
  }
}
