/** docs/errors.md is the operator's list of codes: every code orbit-sync can report has a complete row. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../../src/lib/errors';

const doc = readFileSync(path.join(__dirname, '../../../docs/errors.md'), 'utf8');
const section = (title: string): string => {
  const start = doc.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`docs/errors.md has no "## ${title}" section`);
  const next = doc.indexOf('\n## ', start + 3);
  return doc.slice(start, next < 0 ? undefined : next);
};
/** code → the row's cells after the code. */
const rows = (text: string): Map<string, string[]> =>
  new Map(
    text
      .split('\n')
      .filter((l) => /^\| `[A-Z_0-9]+` \|/.test(l))
      .map((l) => {
        const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
        return [cells[0]?.replace(/`/g, '') ?? '', cells.slice(1)];
      }),
  );

describe('docs/errors.md', () => {
  const errors = rows(section('Errors'));

  it.each([...ERROR_CODES, 'DUPLICATE_CONTACT', 'NOT_IN_CRM'])('documents %s: where it comes from, whether it is retried, what to do', (code) => {
    const cells = errors.get(code);
    expect(cells).toBeDefined();
    expect(cells).toHaveLength(3);
    for (const cell of cells ?? []) expect(cell.length).toBeGreaterThan(0);
  });

  it('lists no code orbit-sync does not have', () => {
    const known = new Set<string>([...ERROR_CODES, 'DUPLICATE_CONTACT', 'NOT_IN_CRM']);
    expect([...errors.keys()].filter((c) => !known.has(c))).toEqual([]);
  });

  it('documents every quarantine code of ingest', () => {
    const types = readFileSync(path.join(__dirname, '../../../src/ingest/types.ts'), 'utf8');
    const union = /export type QuarantineCode =([\s\S]+?);\n\n/.exec(types)?.[1] ?? '';
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(5);
    expect([...rows(section('Quarantine codes')).keys()].sort()).toEqual([...codes].sort());
  });
});
