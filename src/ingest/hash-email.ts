/**
 * The email hash used as a person key when Leadpipe sends no `hashedEmail`, and stored next to every
 * email: `sha256(lowercase(trim(email)))` as 64 lower-case hex characters. Leadpipe does not document its
 * own normalization (leadpipe-api.md §7.5), so this is ours, applied the same way everywhere.
 */
import { hash } from 'node:crypto';

export function hashEmail(email: string): string {
  return hash('sha256', email.trim().toLowerCase(), 'hex');
}
