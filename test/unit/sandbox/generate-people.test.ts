import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { csvCell, EXPORT_CSV_HEADER, exportCsvLines, writeExportFile } from '../../../src/sandbox/export-csv';
import { DEFAULT_TOPICS, generatePeople, MALFORMED_DEFECTS } from '../../../src/sandbox/generate-people';
import type { GeneratedPersonRow, GeneratedRow, LeadpipeResultRow } from '../../../src/sandbox/generate-people';
import { createRandom } from '../../../src/sandbox/random';

const FREE_MAIL = new Set(['gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'icloud.com', 'aol.com', 'proton.me', 'gmx.de']);

function csvText(rows: Iterable<GeneratedRow>, options?: Parameters<typeof exportCsvLines>[1]): string {
  return [...exportCsvLines(rows, options)].join('');
}

/** A strict RFC 4180 reader for the assertions (records split on LF or CRLF outside quotes). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text.charAt(i + 1) === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(cell);
      cell = '';
    } else if (c === '\n' || (c === '\r' && text.charAt(i + 1) === '\n')) {
      if (c === '\r') i++;
      record.push(cell);
      records.push(record);
      record = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || record.length > 0) records.push([...record, cell]);
  return records;
}

function people(rows: Iterable<GeneratedRow>): GeneratedPersonRow[] {
  return [...rows].filter((r): r is GeneratedPersonRow => r.kind === 'person');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('createRandom', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom('7-other');
    const seqA = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('keeps int() within its bounds and sample() distinct', () => {
    const rng = createRandom('bounds');
    const ints = Array.from({ length: 2000 }, () => rng.int(3, 5));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5]));
    const picked = rng.sample([1, 2, 3, 4, 5], 3);
    expect(new Set(picked).size).toBe(3);
    expect(rng.shuffle([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
    expect(() => rng.pick([])).toThrow(RangeError);
  });
});

describe('generatePeople', () => {
  it('gives byte-identical output for the same seed and options, and different output for another seed', () => {
    const options = { seed: 'same', count: 2000, malformedShare: 0.05 };
    const first = csvText(generatePeople(options));
    expect(csvText(generatePeople(options))).toBe(first);
    expect(csvText(generatePeople({ ...options, seed: 'other' }))).not.toBe(first);
  });

  it('serves any slice identically through `start` (random access for paging)', () => {
    const all = [...generatePeople({ seed: 5, count: 400, malformedShare: 0.05 })];
    const page = [...generatePeople({ seed: 5, start: 250, count: 50, malformedShare: 0.05 })];
    expect(page).toEqual(all.slice(250, 300));
  });

  describe('on 5,000 rows', () => {
    const rows = people(generatePeople({ seed: 'fill-rates', count: 5000, duplicateShare: 0 }));
    const share = (pred: (p: LeadpipeResultRow) => boolean): number => (rows.filter((r) => pred(r.person)).length / rows.length) * 100;

    it('has every row as a valid person when no malformed share is asked', () => {
      expect(rows).toHaveLength(5000);
    });

    it('fills fields at realistic rates (within 3 points)', () => {
      expect(share((p) => p.email !== '' && p.primaryContactEmail !== '')).toBe(100);
      expect(share((p) => p.firstName !== null)).toBeGreaterThanOrEqual(65);
      expect(share((p) => p.firstName !== null)).toBeLessThanOrEqual(71);
      expect(Math.abs(share((p) => p.jobTitle !== null) - 39)).toBeLessThanOrEqual(3);
      expect(Math.abs(share((p) => p.company.name !== null) - 46)).toBeLessThanOrEqual(3);
      expect(Math.abs(share((p) => p.linkedinUrl !== null) - 38)).toBeLessThanOrEqual(3);
      expect(Math.abs(share((p) => p.phone !== null) - 30)).toBeLessThanOrEqual(3);
      // The domain travels with the company name.
      expect(rows.every((r) => (r.person.company.name === null) === (r.person.company.domain === null))).toBe(true);
      expect(share((p) => p.seniority !== null)).toBeGreaterThan(10);
      expect(share((p) => p.headline !== null)).toBeGreaterThan(5);
    });

    it('sets the email fields the way Leadpipe does', () => {
      for (const { person: p } of rows) {
        expect(p.primaryContactEmail).toBe(p.businessEmail ?? p.personalEmail);
        expect(p.email).toBe(p.personalEmail ?? p.primaryContactEmail);
        if (p.businessEmail !== null) expect(p.businessEmail.endsWith(`@${p.company.domain ?? '?'}`)).toBe(true);
        if (p.personalEmail !== null) expect(FREE_MAIL.has(p.personalEmail.split('@')[1] ?? '')).toBe(true);
      }
      expect(share((p) => p.businessEmail !== null)).toBeGreaterThan(30);
    });

    it('hashes the lower-cased, trimmed primary email into hashedEmail', () => {
      for (const { person: p } of rows) {
        expect(p.hashedEmail).toMatch(/^[0-9a-f]{64}$/);
        expect(p.hashedEmail).toBe(sha256(p.primaryContactEmail.trim().toLowerCase()));
      }
    });

    it('never gives two fresh people the same hashedEmail', () => {
      expect(new Set(rows.map((r) => r.person.hashedEmail)).size).toBe(rows.length);
    });

    it('sends names lower-case, some of them non-ASCII', () => {
      const names = rows.flatMap((r) => [r.person.firstName, r.person.lastName, r.person.fullName]).filter((n) => n !== null);
      expect(names.every((n) => n === n.toLowerCase())).toBe(true);
      const nonAscii = names.filter((n) => /[^\x20-\x7e]/.test(n)).length;
      expect(nonAscii / names.length).toBeGreaterThan(0.05);
    });

    it('scores integers 50–99 with 1–3 topics from the topic list', () => {
      const topicIds = new Set(DEFAULT_TOPICS.map((t) => t.topicId));
      for (const { person: p } of rows) {
        expect(Number.isInteger(p.intent.score)).toBe(true);
        expect(p.intent.score).toBeGreaterThanOrEqual(50);
        expect(p.intent.score).toBeLessThanOrEqual(99);
        expect(p.intent.matchedTopics.length).toBeGreaterThanOrEqual(1);
        expect(p.intent.matchedTopics.length).toBeLessThanOrEqual(3);
        expect(p.intent.topicOverlap).toBe(p.intent.matchedTopics.length);
        expect(p.intent.matchedTopics.every((t) => topicIds.has(t.topicId))).toBe(true);
        expect(new Set(p.intent.matchedTopics.map((t) => t.topicId)).size).toBe(p.intent.matchedTopics.length);
      }
    });

    it('writes phones as E.164', () => {
      for (const { person: p } of rows) if (p.phone !== null) expect(p.phone).toMatch(/^\+[1-9]\d{9,14}$/);
    });
  });

  it('repeats earlier people at the asked share, with a new score and emails in another case', () => {
    const all = [...generatePeople({ seed: 'dupes', count: 5000, duplicateShare: 0.05 })];
    const duplicates = people(all).filter((r) => r.duplicateOf !== null);
    expect(duplicates.length / all.length).toBeGreaterThan(0.04);
    expect(duplicates.length / all.length).toBeLessThan(0.06);
    for (const dup of duplicates) {
      const original = all[dup.duplicateOf ?? -1];
      if (original?.kind !== 'person') throw new Error('a duplicate must point at an earlier person row');
      expect(dup.duplicateOf).toBeLessThan(dup.index);
      expect(original.duplicateOf).toBeNull();
      expect(dup.person.hashedEmail).toBe(original.person.hashedEmail);
      expect(dup.person.primaryContactEmail).not.toBe(original.person.primaryContactEmail);
      expect(dup.person.primaryContactEmail.toLowerCase()).toBe(original.person.primaryContactEmail);
      expect(dup.person.intent.score).not.toBe(original.person.intent.score);
      expect(dup.person.intent.score).toBeGreaterThanOrEqual(50);
      expect(dup.person.intent.score).toBeLessThanOrEqual(99);
    }
    // Apart from the duplicates, everyone is distinct.
    const hashes = people(all).map((r) => r.person.hashedEmail);
    expect(new Set(hashes).size).toBe(hashes.length - duplicates.length);
  });

  it('uses 2% duplicates and no malformed rows by default', () => {
    const all = [...generatePeople({ seed: 'defaults', count: 5000 })];
    expect(all.some((r) => r.kind === 'malformed')).toBe(false);
    const dupShare = people(all).filter((r) => r.duplicateOf !== null).length / all.length;
    expect(dupShare).toBeGreaterThan(0.01);
    expect(dupShare).toBeLessThan(0.03);
  });

  it('makes the asked share of rows malformed, in every documented way', () => {
    const all = [...generatePeople({ seed: 'bad', count: 3000, malformedShare: 0.1 })];
    const bad = all.filter((r) => r.kind === 'malformed');
    expect(bad.length / all.length).toBeGreaterThan(0.08);
    expect(bad.length / all.length).toBeLessThan(0.12);
    expect(new Set(bad.map((r) => r.defect))).toEqual(new Set(MALFORMED_DEFECTS));

    const records = parseCsv(csvText(all));
    const header = records[0] ?? [];
    const col = (name: string): number => header.indexOf(name);
    for (const row of bad) {
      const cells = records[row.index + 1] ?? [];
      if (row.defect === 'ragged') {
        expect(cells).toHaveLength(header.length - 1);
        continue;
      }
      expect(cells).toHaveLength(header.length);
      const score = cells[col('intent.score')];
      const hash = cells[col('hashedEmail')] ?? '';
      const emails = ['primaryContactEmail', 'businessEmail', 'personalEmail', 'email'].map((c) => cells[col(c)]);
      switch (row.defect) {
        case 'score-not-a-number':
          expect(score).toBe('abc');
          break;
        case 'score-zero':
          expect(score).toBe('0');
          break;
        case 'score-over-100':
          expect(score).toBe('101');
          break;
        case 'score-empty':
          expect(score).toBe('');
          break;
        case 'hash-invalid-no-email':
          expect(hash).not.toMatch(/^[0-9a-f]{64}$/);
          expect(hash).not.toBe('');
          expect(emails).toEqual(['', '', '', '']);
          break;
        case 'no-identity':
          expect(hash).toBe('');
          expect(emails).toEqual(['', '', '', '']);
          break;
      }
    }
  });

  it('rejects impossible options when called, not on first use', () => {
    expect(() => generatePeople({ seed: 1, count: -1 })).toThrow(RangeError);
    expect(() => generatePeople({ seed: 1, count: 1, duplicateShare: 1.5 })).toThrow(RangeError);
    expect(() => generatePeople({ seed: 1, count: 1, duplicateShare: 0.6, malformedShare: 0.6 })).toThrow(RangeError);
    expect(() => generatePeople({ seed: 1, count: 1, topics: [] })).toThrow(RangeError);
  });
});

describe('CSV export', () => {
  it('writes the Leadpipe dotted header and RFC 4180 quoting', () => {
    expect(EXPORT_CSV_HEADER).toBe(
      'hashedEmail,primaryContactEmail,businessEmail,personalEmail,email,firstName,lastName,fullName,jobTitle,headline,' +
        'seniority,department,phone,linkedinUrl,company.name,company.domain,company.industry,intent.score,' +
        'intent.topicOverlap,intent.matchedTopics',
    );
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\r')).toBe('"cr\r"');
  });

  it('round-trips through a CSV reader, with JSON topics by default', () => {
    const rows = people(generatePeople({ seed: 'csv', count: 300 }));
    const records = parseCsv(csvText(rows));
    expect(records[0]?.join(',')).toBe(EXPORT_CSV_HEADER);
    expect(records).toHaveLength(rows.length + 1);
    const header = records[0] ?? [];
    rows.forEach((row, i) => {
      const cells = records[i + 1] ?? [];
      expect(cells[header.indexOf('hashedEmail')]).toBe(row.person.hashedEmail);
      expect(cells[header.indexOf('company.name')]).toBe(row.person.company.name ?? '');
      expect(JSON.parse(cells[header.indexOf('intent.matchedTopics')] ?? '')).toEqual(
        row.person.intent.matchedTopics.map((t) => ({ topicId: t.topicId, topicName: t.topicName })),
      );
    });
  });

  it('writes `;`-delimited topic names and CRLF line ends when asked', () => {
    const rows = people(generatePeople({ seed: 'delim', count: 50 }));
    const text = csvText(rows, { topicsFormat: 'delimited', lineEnding: 'crlf' });
    expect(text.split('\r\n')).toHaveLength(rows.length + 2); // header + rows + the empty tail
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    const records = parseCsv(text);
    const col = (records[0] ?? []).indexOf('intent.matchedTopics');
    rows.forEach((row, i) => {
      expect(records[i + 1]?.[col]).toBe(row.person.intent.matchedTopics.map((t) => t.topicName).join(';'));
    });
  });

  it('streams a file identical to the in-memory lines and reports rows and bytes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orbit-export-'));
    try {
      const file = path.join(dir, 'export.csv');
      const options = { seed: 'file', count: 3000, malformedShare: 0.02, lineEnding: 'crlf' as const };
      const result = await writeExportFile(file, options);
      const written = readFileSync(file);
      expect(result).toEqual({ rows: 3000, bytes: written.length });
      expect(written.toString('utf8')).toBe(csvText(generatePeople(options), options));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
