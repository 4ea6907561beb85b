/** Salesforce's error shapes, as the sandbox sends them. */
import type { SaveError } from './types';

/** One entry of a REST error body: `[{ message, errorCode, fields? }]`. */
export interface ApiErrorEntry {
  message: string;
  errorCode: string;
  fields?: string[];
  duplicateResult?: unknown;
}

/** An error answered as the whole response (a JSON array of one entry, except for OAuth and SOAP). */
export class SalesforceApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
    readonly extra: Partial<ApiErrorEntry> = {},
  ) {
    super(message);
  }

  body(): ApiErrorEntry[] {
    return [{ message: this.message, errorCode: this.errorCode, ...(this.fields ? { fields: this.fields } : {}), ...this.extra }];
  }
}

/** A failure of one record of a write (collections, single record, bulk row). */
export class RecordError extends Error {
  constructor(readonly errors: SaveError[]) {
    super(errors.map((e) => `${e.statusCode}: ${e.message}`).join('; '));
  }
}

export function saveError(statusCode: string, message: string, fields: string[] = []): SaveError {
  return { statusCode, message, fields };
}

export function recordError(statusCode: string, message: string, fields: string[] = []): RecordError {
  return new RecordError([saveError(statusCode, message, fields)]);
}

export const NOT_FOUND_MESSAGE = 'The requested resource does not exist';

export function notFound(): SalesforceApiError {
  return new SalesforceApiError(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);
}

export function sessionInvalid(): SalesforceApiError {
  return new SalesforceApiError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
}

export function jsonParserError(message: string): SalesforceApiError {
  return new SalesforceApiError(400, 'JSON_PARSER_ERROR', message);
}

/** `Required fields are missing: [LastName, Company]`. */
export function requiredMissing(fields: readonly string[]): RecordError {
  return recordError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${fields.join(', ')}]`, [...fields]);
}

/** A value for an error message (strings as they are, anything else as JSON). */
export function shown(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}

export const ROLLED_BACK_MESSAGE = 'Record rolled back because not all records were valid and the request was using AllOrNone header';
