import { SyncError } from '../lib/errors';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The store keys people by hashed email only (DESIGN.md: no plaintext emails or names at rest). The
 * message gives the value's length, never the value, which may be a plaintext email.
 */
export function assertHashedEmail(value: string, table: string): void {
  if (!SHA256_HEX.test(value)) {
    throw new SyncError(
      'INTERNAL',
      `${table} keys people by hashed email (64 lower-case hex characters), got a ${value.length}-character value; ` +
        'hash the email with sha256(lowercase(trim(email))) before it reaches the store.',
    );
  }
}
