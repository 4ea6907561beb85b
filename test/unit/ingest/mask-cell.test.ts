import { displayCell, maskCell } from '../../../src/ingest/mask-cell';

describe('maskCell', () => {
  // Found by test/property/hostile-input.test.ts: the header cell "'y|heébq.øl'@qbmp3.br" (an address
  // normalizeEmail accepts) reached a quarantine reason as is, because lib/logger.ts's email pattern
  // stops at the quote before "@"; it also misses non-ASCII top-level domains.
  it.each([["'y|heébq.øl'@qbmp3.br"], ["jane'@acme.com"], ['jane@acme.рф'], ['Jane.Doe@Acme.com']])('masks %s, an address ingest accepts, alone or among words', (email) => {
    expect(maskCell(email)).toBe('[email]');
    expect(maskCell(`score ${email}; see <${email}>`)).toBe('score [email]; see <[email]>');
  });

  it('masks hashes and cuts long values like maskValue, and quotes them for a message', () => {
    expect(maskCell('a'.repeat(64))).toBe('[hash]');
    expect(maskCell('x'.repeat(50))).toBe(`${'x'.repeat(40)}…`);
    expect(displayCell('85.5')).toBe('"85.5"');
    expect(maskCell('not@an address')).toBe('not@an address');
  });
});
