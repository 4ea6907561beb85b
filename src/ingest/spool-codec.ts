/**
 * The dedupe spool's line format: one person as one flat JSON array, without field names and without
 * hashes that equal the key: about 60% of the size of the person's JSON, and faster to write and read. Encoding, writing, reading and decoding
 * the spool is the largest cost of in-run dedupe after CSV parsing itself, so its size matters.
 *
 * Only dedupe-people.ts reads what it wrote in the same run, so the format has no version.
 */
import { setExtra } from './set-extra';
import type { IntentPerson, PersonEmail } from './types';

/**
 * One flat array (flat parses about a third faster than nested arrays):
 *
 *     line, rows, score, key, hashedEmail, firstName, lastName, fullName, jobTitle, headline,
 *     seniority, department, phone, linkedinUrl, company.name, company.domain, company.industry,
 *     emailCount, topicCount,
 *     (address, kind code, sha256) × emailCount, topic × topicCount, (column, value) × rest
 *
 * `0` stands for an absent value, `1` for "same as the key".
 */
type SpoolValue = string | number;
const HEAD = 19;

const KINDS: readonly PersonEmail['kind'][] = ['primary', 'business', 'personal', 'other'];
const KIND_CODE: Record<PersonEmail['kind'], number> = { primary: 0, business: 1, personal: 2, other: 3 };

export function encodePerson(p: IntentPerson): string {
  const record: SpoolValue[] = [
    p.line,
    p.rows,
    p.score,
    p.key,
    p.hashedEmail === undefined ? 0 : p.hashedEmail === p.key ? 1 : p.hashedEmail,
    p.firstName ?? 0,
    p.lastName ?? 0,
    p.fullName ?? 0,
    p.jobTitle ?? 0,
    p.headline ?? 0,
    p.seniority ?? 0,
    p.department ?? 0,
    p.phone ?? 0,
    p.linkedinUrl ?? 0,
    p.company.name ?? 0,
    p.company.domain ?? 0,
    p.company.industry ?? 0,
    p.emails.length,
    p.topics.length,
  ];
  for (const e of p.emails) record.push(e.address, KIND_CODE[e.kind], e.sha256 === p.key ? 1 : e.sha256);
  for (const topic of p.topics) record.push(topic);
  for (const column in p.extra) record.push(column, p.extra[column] as string);
  return JSON.stringify(record);
}

export function decodePerson(line: string): IntentPerson {
  // Written by encodePerson in this process: trusted, not re-validated.
  const r = JSON.parse(line) as SpoolValue[];
  const key = r[3] as string;
  const emailCount = r[17] as number;
  const topicCount = r[18] as number;
  let i = HEAD;
  const emails: PersonEmail[] = [];
  for (const end = i + emailCount * 3; i < end; i += 3) {
    const sha = r[i + 2];
    emails.push({ address: r[i] as string, sha256: sha === 1 ? key : (sha as string), kind: KINDS[r[i + 1] as number] as PersonEmail['kind'] });
  }
  const topics = r.slice(i, i + topicCount) as string[];
  i += topicCount;
  const extra: Record<string, string> = {};
  for (; i < r.length; i += 2) setExtra(extra, r[i] as string, r[i + 1] as string);
  const company: IntentPerson['company'] = {};
  if (r[14] !== 0) company.name = r[14] as string;
  if (r[15] !== 0) company.domain = r[15] as string;
  if (r[16] !== 0) company.industry = r[16] as string;
  const person: IntentPerson = { key, emails, company, score: r[2] as number, topics, extra, line: r[0] as number, rows: r[1] as number };
  const hashed = r[4];
  if (hashed !== 0) person.hashedEmail = hashed === 1 ? key : (hashed as string);
  if (r[5] !== 0) person.firstName = r[5] as string;
  if (r[6] !== 0) person.lastName = r[6] as string;
  if (r[7] !== 0) person.fullName = r[7] as string;
  if (r[8] !== 0) person.jobTitle = r[8] as string;
  if (r[9] !== 0) person.headline = r[9] as string;
  if (r[10] !== 0) person.seniority = r[10] as string;
  if (r[11] !== 0) person.department = r[11] as string;
  if (r[12] !== 0) person.phone = r[12] as string;
  if (r[13] !== 0) person.linkedinUrl = r[13] as string;
  return person;
}
