/**
 * Seals CRM credentials for the store with AES-256-GCM under ENCRYPTION_KEY (32 bytes): a fresh random
 * 12-byte IV per seal, the 16-byte tag checked on open, so a tampered or foreign value is refused, never
 * decrypted to garbage. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FixConfigurationError, SyncError } from '../lib/errors';

const VERSION = 'v1';

function assertKey(key: Buffer): void {
  if (key.length !== 32) throw new SyncError('INTERNAL', `The token vault needs a 32-byte key, got ${key.length} bytes.`);
}

export function seal(key: Buffer, plaintext: string): string {
  assertKey(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

export function open(key: Buffer, sealed: string): string {
  assertKey(key);
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new SyncError('BAD_RESPONSE', 'A stored credential is not in the token vault’s format.');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new FixConfigurationError([
      'ENCRYPTION_KEY: a stored credential cannot be opened with this key (it was sealed with another key, or altered). Restore the key, or reconnect the CRM.',
    ]);
  }
}
