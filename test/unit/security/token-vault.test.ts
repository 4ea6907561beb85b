import { randomBytes } from 'node:crypto';
import { open, seal } from '../../../src/security/token-vault';

const key = randomBytes(32);

describe('token vault', () => {
  it('seals and opens; the sealed text holds no plaintext and differs on every seal', () => {
    const secret = JSON.stringify({ accessToken: '00Dxx!AQ4AQFake.Token', refreshToken: '5Aep861Fake' });
    const a = seal(key, secret);
    const b = seal(key, secret);
    expect(a).not.toBe(b);
    expect(a).not.toContain('Fake');
    expect(a).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(open(key, a)).toBe(secret);
  });

  it('refuses another key and a tampered value with a message naming ENCRYPTION_KEY', () => {
    const sealed = seal(key, 'token');
    expect(() => open(randomBytes(32), sealed)).toThrow(/ENCRYPTION_KEY/);
    const [v, iv, tag, ct] = sealed.split('.');
    const flipped = Buffer.from(ct ?? '', 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => open(key, [v, iv, tag, flipped.toString('base64url')].join('.'))).toThrow(/ENCRYPTION_KEY/);
    expect(() => open(key, 'plain text')).toThrow(/format/);
  });
});
