/**
 * zod schemas for the HubSpot responses orbit-sync reads. They accept both the SDK's deserialized
 * objects and the raw JSON of a 2xx the SDK refused (hubspot-api.ts): `_new` or `new`, `_from` or
 * `from`, dates as `Date` or strings. Unknown fields pass through. A body that does not fit is a
 * BAD_RESPONSE naming the endpoint, never a crash deep inside the sync.
 */
import { z } from 'zod';
import { SyncError } from '../../lib/errors';

const properties = z.record(z.string(), z.string().nullable().optional());

export const SimpleObject = z.looseObject({
  id: z.string(),
  properties: properties.default({}),
});
export type SimpleObject = z.infer<typeof SimpleObject>;

export const UpsertObject = SimpleObject.extend({
  _new: z.boolean().optional(),
  new: z.boolean().optional(),
  objectWriteTraceId: z.string().optional(),
});

/** HubSpot categories that will fail the same way again: the record needs new data, not another try. */
export const PERMANENT_CATEGORIES: ReadonlySet<string> = new Set(['VALIDATION_ERROR', 'INVALID_EMAIL', 'CONFLICT', 'OBJECT_ALREADY_EXISTS', 'PROPERTY_DOESNT_EXIST', 'INVALID_OPTION']);

export const StandardError = z.looseObject({
  status: z.string().optional(),
  category: z.string().optional(),
  message: z.string().default(''),
  context: z.record(z.string(), z.array(z.string())).optional(),
  errors: z.array(z.looseObject({ message: z.string().optional(), code: z.string().optional(), context: z.record(z.string(), z.array(z.string())).optional() })).optional(),
});
export type StandardError = z.infer<typeof StandardError>;

export const BatchUpsertResponse = z.looseObject({ results: z.array(UpsertObject).default([]), errors: z.array(StandardError).optional() });
export const BatchObjectsResponse = z.looseObject({ results: z.array(SimpleObject).default([]), errors: z.array(StandardError).optional() });

export const SearchResponse = z.looseObject({
  total: z.number().optional(),
  results: z.array(SimpleObject),
  paging: z.looseObject({ next: z.looseObject({ after: z.string() }).optional() }).optional(),
});

const ObjectId = z.looseObject({ id: z.union([z.string(), z.number()]).transform(String) });

export const AssociationReadResponse = z.looseObject({
  results: z
    .array(
      z.looseObject({
        _from: ObjectId.optional(),
        from: ObjectId.optional(),
        to: z.array(z.looseObject({ toObjectId: z.union([z.string(), z.number()]).transform(String) })).default([]),
      }),
    )
    .default([]),
  errors: z.array(StandardError).optional(),
});

export const AssociationWriteResponse = z.looseObject({ results: z.array(z.unknown()).default([]), errors: z.array(StandardError).optional() });

export const PropertyOption = z.looseObject({ label: z.string(), value: z.string(), hidden: z.boolean().optional(), displayOrder: z.number().optional() });
export const Property = z.looseObject({
  name: z.string(),
  type: z.string(),
  fieldType: z.string().optional(),
  groupName: z.string().optional(),
  hasUniqueValue: z.boolean().optional(),
  options: z.array(PropertyOption).default([]),
});
export type Property = z.infer<typeof Property>;
export const PropertyList = z.looseObject({ results: z.array(Property) });
export const GroupList = z.looseObject({ results: z.array(z.looseObject({ name: z.string() })) });

/** Parses `body` or throws BAD_RESPONSE naming the endpoint and the first problem. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, endpoint: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new SyncError('BAD_RESPONSE', `HubSpot's answer to ${endpoint} is not what its API documents${where}: ${issue?.message ?? 'invalid'}`);
}
