/**
 * A run export on disk as Leadpipe sandbox content (`orbit-sync sandbox --fixture file.csv`): the file's
 * exact bytes are served as the run's export (so its quirks reach orbit-sync unchanged), and its rows,
 * read by header name with dotted nesting, serve the results and stats endpoints.
 *
 * Rows are read leniently (this is a sandbox, not ingest): a row whose score is not a whole number is
 * served as a malformed row; missing cells are null.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { FixInputFileError } from '../lib/errors';
import { parseTopics } from '../ingest/parse-topics';
import type { GeneratedRow, LeadpipeResultRow, LeadpipeTopic } from './generate-people';
import type { SandboxFixture } from './leadpipe/server';

function cell(record: Record<string, string>, name: string): string | null {
  const value = record[name]?.trim();
  return value === undefined || value === '' ? null : value;
}

function topicsOf(raw: string | null): LeadpipeTopic[] {
  if (raw === null) return [];
  return parseTopics(raw).map((topicName, i) => ({ topicId: 900_000 + i, topicName, type: 'b2b', industry: 'Unknown', category: 'Unknown' }));
}

export function loadFixture(file: string): SandboxFixture {
  let csv: Buffer;
  try {
    csv = readFileSync(file);
  } catch {
    throw new FixInputFileError('FILE_NOT_FOUND', `--fixture ${file}: no such file`);
  }
  let records: Array<Record<string, string>>;
  try {
    records = parse<Record<string, string>>(csv, { columns: true, bom: true, relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    throw new FixInputFileError('CSV_NOT_CSV', `--fixture ${file}: not a CSV export (${err instanceof Error ? err.message : String(err)})`);
  }
  const rows: GeneratedRow[] = records.map((r, index) => {
    const scoreText = cell(r, 'intent.score');
    const score = scoreText === null ? NaN : Number(scoreText);
    const topics = topicsOf(cell(r, 'intent.matchedTopics'));
    const base = {
      hashedEmail: cell(r, 'hashedEmail'),
      primaryContactEmail: cell(r, 'primaryContactEmail'),
      businessEmail: cell(r, 'businessEmail'),
      personalEmail: cell(r, 'personalEmail'),
      email: cell(r, 'email'),
      firstName: cell(r, 'firstName'),
      lastName: cell(r, 'lastName'),
      fullName: cell(r, 'fullName'),
      jobTitle: cell(r, 'jobTitle'),
      headline: cell(r, 'headline'),
      seniority: cell(r, 'seniority'),
      department: cell(r, 'department'),
      phone: cell(r, 'phone'),
      linkedinUrl: cell(r, 'linkedinUrl'),
      company: { name: cell(r, 'company.name'), domain: cell(r, 'company.domain'), industry: cell(r, 'company.industry') },
    };
    if (Number.isInteger(score) && base.hashedEmail !== null && base.primaryContactEmail !== null && base.email !== null) {
      const person: LeadpipeResultRow = {
        ...base,
        hashedEmail: base.hashedEmail,
        primaryContactEmail: base.primaryContactEmail,
        email: base.email,
        intent: { score, topicOverlap: topics.length, matchedTopics: topics },
      };
      return { kind: 'person', index, person, duplicateOf: null };
    }
    return {
      kind: 'malformed',
      index,
      defect: 'score-not-a-number',
      missingField: null,
      person: { ...base, intent: { score: scoreText, topicOverlap: topics.length, matchedTopics: topics } },
    };
  });
  return { rows, csv };
}
