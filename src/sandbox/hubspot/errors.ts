/** HubSpot's error shapes, as the sandbox sends them. */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { describeZodError } from '../http';

/** HubSpot's error body: the spec's `Error` plus `status: 'error'` (reference §7 bodies). */
export interface HubspotErrorBody {
  status: string;
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: ErrorDetail[];
  links?: Record<string, string>;
  policyName?: string;
  errorType?: string;
  groupName?: string;
  requestId?: string;
  /** OAuth errors (RFC 6749 fields HubSpot adds since 2026-01). */
  error?: string;
  error_description?: string;
}

/** `ErrorDetail`. */
export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
  context?: Record<string, string[]>;
}

/** `StandardError`: one per failed input in a 207 body (all of category, context, errors, links required). */
export interface StandardError {
  status: 'error';
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: ErrorDetail[];
  links: Record<string, string>;
}

/** An error answered as a whole response. */
export class HubspotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Partial<HubspotErrorBody> = {},
  ) {
    super(message);
  }
}

export function validationError(message: string, extra: Partial<HubspotErrorBody> = {}): HubspotError {
  return new HubspotError(400, 'VALIDATION_ERROR', message, extra);
}

export function errorBody(category: string, message: string, extra: Partial<HubspotErrorBody> = {}): HubspotErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export function standardError(category: string, message: string, context: Record<string, string[]> = {}, errors: ErrorDetail[] = []): StandardError {
  return { status: 'error', category, message, context, errors, links: {} };
}

/** One entry of HubSpot's "Property values were not valid: [...]" list. */
export interface PropertyValidation {
  isValid: false;
  message: string;
  error: string;
  name: string;
  localizedErrorMessage?: string;
}

export function propertyValuesMessage(problems: readonly PropertyValidation[]): string {
  return `Property values were not valid: ${JSON.stringify(problems)}`;
}

/** Parses a request body with zod; a mismatch is HubSpot's 400 "Invalid input JSON". */
export function parseBody<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(`Invalid input JSON: ${describeZodError(result.error)}`);
  return result.data;
}
