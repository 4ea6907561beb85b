/**
 * Merges the rows of one person (same key) into one IntentPerson, with a result that does not depend on
 * the order the rows came in (a re-sorted export must sync the same way):
 *
 * - rows are ranked by score (highest first), ties broken by a digest of their content, so "first" is
 *   well defined;
 * - the score is the highest; each other field takes the value of the best-ranked row that has one;
 * - topics: the best row's topics first, then the others' by row rank, deduplicated ignoring case;
 * - emails: deduplicated by address, ordered primary, business, personal, other, then by row rank;
 * - `line` is the smallest line, `rows` the sum.
 *
 * The merge is incremental (`add` one row at a time) and keeps one value per field, so a key repeated
 * many times costs no more memory than the distinct values it brings.
 */
import { hash } from 'node:crypto';
import { setExtra } from './set-extra';
import type { IntentCompany, IntentPerson, PersonEmail } from './types';

interface Rank {
  score: number;
  /**
   * A digest of the row's content without its line: equal scores are ordered by it. A digest rather
   * than the content keeps people waiting for duplicates small.
   */
  content: string;
}

/** Negative when `a` ranks before `b`. */
function compareRank(a: Rank, b: Rank): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.content < b.content ? -1 : a.content > b.content ? 1 : 0;
}

interface Ranked {
  value: string;
  rank: Rank;
}

interface RankedItem<T> {
  value: T;
  rank: Rank;
  /** Position in its row's list. */
  pos: number;
}

const PERSON_FIELDS = ['hashedEmail', 'firstName', 'lastName', 'fullName', 'jobTitle', 'headline', 'seniority', 'department', 'phone', 'linkedinUrl'] as const;
type PersonField = (typeof PERSON_FIELDS)[number];
const COMPANY_FIELDS = ['name', 'domain', 'industry'] as const satisfies readonly (keyof IntentCompany)[];

const KIND_ORDER: Record<PersonEmail['kind'], number> = { primary: 0, business: 1, personal: 2, other: 3 };

function contentOf(person: IntentPerson): string {
  const { line: _line, rows: _rows, ...content } = person;
  return hash('sha1', JSON.stringify(content), 'base64');
}

function keepBetter(map: Map<string, Ranked>, field: string, value: string | undefined, rank: Rank): void {
  if (value === undefined || value === '') return;
  const current = map.get(field);
  if (current === undefined || compareRank(rank, current.rank) < 0) map.set(field, { value, rank });
}

function byRankThenPos<T>(a: RankedItem<T>, b: RankedItem<T>): number {
  return compareRank(a.rank, b.rank) || a.pos - b.pos;
}

export class PersonMerger {
  readonly key: string;
  private score = 0;
  private line = Number.POSITIVE_INFINITY;
  private rows = 0;
  private readonly fields = new Map<string, Ranked>();
  private readonly company = new Map<string, Ranked>();
  private readonly extra = new Map<string, Ranked>();
  /** Lower-cased topic → its best-ranked spelling. */
  private readonly topics = new Map<string, RankedItem<string>>();
  /** Address → its best entry (lowest kind, then best-ranked row). */
  private readonly emails = new Map<string, RankedItem<PersonEmail>>();

  constructor(key: string) {
    this.key = key;
  }

  /** Adds one row of this person (or an already merged person). */
  add(person: IntentPerson): void {
    const rank: Rank = { score: person.score, content: contentOf(person) };
    this.score = Math.max(this.score, person.score);
    this.line = Math.min(this.line, person.line);
    this.rows += person.rows;
    for (const field of PERSON_FIELDS) keepBetter(this.fields, field, person[field], rank);
    for (const field of COMPANY_FIELDS) keepBetter(this.company, field, person.company[field], rank);
    for (const [column, value] of Object.entries(person.extra)) keepBetter(this.extra, column, value, rank);
    person.topics.forEach((topic, pos) => {
      const id = topic.toLowerCase();
      const entry = { value: topic, rank, pos };
      const current = this.topics.get(id);
      if (current === undefined || byRankThenPos(entry, current) < 0) this.topics.set(id, entry);
    });
    person.emails.forEach((email, pos) => {
      const entry = { value: email, rank, pos };
      const current = this.emails.get(email.address);
      if (current === undefined) {
        this.emails.set(email.address, entry);
        return;
      }
      const order = KIND_ORDER[email.kind] - KIND_ORDER[current.value.kind] || byRankThenPos(entry, current);
      if (order < 0) this.emails.set(email.address, entry);
    });
  }

  /** The merged person. */
  result(): IntentPerson {
    const emails = [...this.emails.values()]
      .sort((a, b) => KIND_ORDER[a.value.kind] - KIND_ORDER[b.value.kind] || byRankThenPos(a, b))
      .map((e) => e.value);
    const topics = [...this.topics.values()].sort(byRankThenPos).map((t) => t.value);
    const company: IntentCompany = {};
    for (const field of COMPANY_FIELDS) {
      const value = this.company.get(field)?.value;
      if (value !== undefined) company[field] = value;
    }
    const extra: Record<string, string> = {};
    for (const column of [...this.extra.keys()].sort()) setExtra(extra, column, (this.extra.get(column) as Ranked).value);
    const person: IntentPerson = { key: this.key, emails, company, score: this.score, topics, extra, line: this.line, rows: this.rows };
    for (const field of PERSON_FIELDS) {
      const value = this.fields.get(field)?.value;
      if (value !== undefined) (person as Pick<IntentPerson, PersonField>)[field] = value;
    }
    return person;
  }
}

/** Merges rows of the same person; see PersonMerger for the rules. */
export function mergePeople(rows: readonly IntentPerson[]): IntentPerson {
  const first = rows[0];
  if (first === undefined) throw new RangeError('mergePeople needs at least one row');
  const merger = new PersonMerger(first.key);
  for (const row of rows) merger.add(row);
  return merger.result();
}
