import { hashEmail } from '../../../src/ingest/hash-email';
import { normalizeEmail } from '../../../src/ingest/normalize-email';

describe('hashEmail', () => {
  it('is sha256 of the trimmed, lower-cased address (known vectors)', () => {
    // sha256("abc") and sha256("") from FIPS 180-2.
    expect(hashEmail('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashEmail('  ABC \t')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashEmail('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashEmail('Jane.Doe@Example.com')).toBe(hashEmail('jane.doe@example.com'));
    expect(hashEmail('jane.doe@example.com')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('normalizeEmail', () => {
  it.each([
    ['  Jane.Doe@Example.COM ', 'jane.doe@example.com'],
    ['o.reilly+crm@mail.example.co.uk', 'o.reilly+crm@mail.example.co.uk'],
    ["o'neil@example.ie", "o'neil@example.ie"],
    ['user@xn--mller-kva.de', 'user@xn--mller-kva.de'],
    ['josé@exämple.de', 'josé@exämple.de'],
  ])('accepts %j', (raw, expected) => {
    expect(normalizeEmail(raw)).toBe(expected);
  });

  it.each([
    'plainaddress',
    'two@@example.com',
    'a@b@example.com',
    '@example.com',
    'jane@',
    'jane@localhost',
    'jane doe@example.com',
    'jane@exa mple.com',
    '.jane@example.com',
    'jane.@example.com',
    'ja..ne@example.com',
    'jane@-example.com',
    'jane@example-.com',
    'jane@example..com',
    'jane@example.c',
    'jane@127.0.0.1',
    '"jane"@example.com',
    `${'a'.repeat(65)}@example.com`,
    '',
  ])('rejects %j', (raw) => {
    expect(normalizeEmail(raw)).toBeNull();
  });
});
