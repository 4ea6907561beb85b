/**
 * `app.json`, the HubSpot app manifest, read and checked once at start-up: the OAuth install route takes
 * its scopes from it and the webhook handler its subscriptions (issue #5), so it is the one source of
 * truth. Every problem is listed in one FixConfigurationError, naming the field.
 *
 * Rules (reference/hubspot.md §8–§10): uid ≤ 64 characters of `[A-Za-z0-9_.-]`; scopes are dotted names,
 * `oauth` among the required ones; the scopes orbit-sync needs to sync (objects read/write, schemas write
 * for `setup`) are required, not optional; redirect and webhook URLs are paths under PUBLIC_URL (or
 * absolute https URLs); webhook subscriptions are the types orbit-sync handles.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FixConfigurationError } from '../lib/errors';

export const APP_MANIFEST_FILE = path.resolve(__dirname, '..', '..', 'app.json');

/** What a sync needs; missing ones would make installs fail later with 403s. */
export const NEEDED_SCOPES = [
  'oauth',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.companies.write',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
  'crm.schemas.contacts.write',
  'crm.schemas.companies.write',
  'crm.schemas.deals.write',
] as const;

export const HANDLED_SUBSCRIPTIONS = ['contact.creation', 'contact.propertyChange', 'contact.privacyDeletion'] as const;

const scope = z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, 'must be a HubSpot scope such as crm.objects.contacts.read');
const urlOrPath = z.string().refine((v) => v.startsWith('/') || (URL.canParse(v) && new URL(v).protocol === 'https:'), 'must be a path under PUBLIC_URL (e.g. /oauth/hubspot/callback) or an https URL');

export const AppManifestSchema = z.object({
  $comment: z.string().optional(),
  name: z.string().trim().min(1),
  uid: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 characters of letters, digits, _ . -'),
  description: z.string().trim().min(1),
  public: z.boolean(),
  auth: z.object({
    redirectUrls: z.array(urlOrPath).min(1, 'needs the OAuth callback (e.g. /oauth/hubspot/callback)'),
    requiredScopes: z.array(scope),
    optionalScopes: z.array(scope).default([]),
  }),
  webhooks: z.object({
    targetUrl: urlOrPath,
    maxConcurrentRequests: z.number().int().min(1).max(100).default(10),
    subscriptions: z.array(
      z.object({
        subscriptionType: z.enum(HANDLED_SUBSCRIPTIONS, { error: `must be one orbit-sync handles: ${HANDLED_SUBSCRIPTIONS.join(', ')}` }),
        propertyName: z.string().optional(),
        active: z.boolean(),
      }),
    ),
  }),
  support: z.object({ supportEmail: z.email(), documentationUrl: z.url().optional(), supportUrl: z.url().optional() }),
});
export type AppManifest = z.infer<typeof AppManifestSchema>;

export function parseAppManifest(raw: unknown, source = 'app.json'): AppManifest {
  const result = AppManifestSchema.safeParse(raw);
  const problems = result.success ? [] : result.error.issues.map((i) => `${source} → ${i.path.join('.') || '(file)'}: ${i.message}`);
  if (result.success) {
    const required = new Set(result.data.auth.requiredScopes);
    for (const s of NEEDED_SCOPES) if (!required.has(s)) problems.push(`${source} → auth.requiredScopes: must include ${s} (orbit-sync needs it to sync)`);
    for (const s of result.data.auth.optionalScopes) if (required.has(s)) problems.push(`${source} → auth.optionalScopes: ${s} is already required`);
    for (const sub of result.data.webhooks.subscriptions) {
      if (sub.subscriptionType === 'contact.propertyChange' && sub.propertyName === undefined) {
        problems.push(`${source} → webhooks.subscriptions: contact.propertyChange needs a propertyName (email)`);
      }
    }
  }
  if (!result.success || problems.length > 0) throw new FixConfigurationError(problems);
  return result.data;
}

export function loadAppManifest(file: string = APP_MANIFEST_FILE): AppManifest {
  if (!existsSync(file)) throw new FixConfigurationError([`${file}: file not found (the HubSpot app manifest)`]);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new FixConfigurationError([`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`]);
  }
  return parseAppManifest(raw, file);
}
