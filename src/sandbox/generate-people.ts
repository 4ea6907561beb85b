/**
 * Seeded generator of Leadpipe Orbit run-result rows, for the Leadpipe sandbox, fixtures and benchmarks.
 *
 * Shape and fill rates follow docs.leadpipe.com/orbit-api/get-people and the stats example in
 * /work/shared/reference/leadpipe-api.md §4–§5: names lower-case, `primaryContactEmail` = business
 * email when there is one, `email` = the personal email when there is one, email 100%, first name ~68%,
 * job title ~39%, company ~46%, LinkedIn ~38%.
 *
 * Every row is a pure function of (seed, options, row index):
 * 1. the row's own PRNG is seeded with mix(seed, index); its first draw decides the row kind
 *    (fresh person, duplicate of an earlier row, or malformed);
 * 2. the person's identity (first name, last name, company) comes from a keyed bijection of the index,
 *    so no two fresh people ever share an email, without remembering any earlier row;
 * 3. a duplicate picks an earlier fresh row within a bounded window and rebuilds that person from its
 *    index, instead of keeping a reservoir of earlier people.
 * So memory stays constant for any row count, and a page of rows at any offset costs only that page:
 * the sandbox serves `results?offset=` pages and streams `export.csv` from the same function.
 */
import { createHash } from 'node:crypto';
import { createRandom, hashSeed, mixSeed } from './random';
import type { Random } from './random';

/** A matched topic, as in `intent.matchedTopics[]` of the Leadpipe results. */
export interface LeadpipeTopic {
  topicId: number;
  topicName: string;
  type: 'b2b' | 'b2c';
  industry: string;
  category: string;
}

export interface LeadpipeResultCompany {
  name: string | null;
  domain: string | null;
  industry: string | null;
}

/** One valid row of `GET …/runs/{runId}/results` (absent values are `null`, as in JSON). */
export interface LeadpipeResultRow {
  /** sha256(lowercase(trim(primaryContactEmail))), 64 lower-case hex. */
  hashedEmail: string;
  primaryContactEmail: string;
  businessEmail: string | null;
  personalEmail: string | null;
  email: string;
  firstName: string | null;
  lastName: string | null;
  fullName: string | null;
  jobTitle: string | null;
  headline: string | null;
  seniority: string | null;
  department: string | null;
  /** E.164. */
  phone: string | null;
  linkedinUrl: string | null;
  company: LeadpipeResultCompany;
  intent: {
    /** Integer 50–99 for generated people. */
    score: number;
    /** How many of the audience's topics the person matched (= matchedTopics.length). */
    topicOverlap: number;
    matchedTopics: LeadpipeTopic[];
  };
}

/** A row made bad on purpose: identity or score may be missing or out of range. */
export interface LeadpipeLooseResultRow
  extends Omit<LeadpipeResultRow, 'hashedEmail' | 'primaryContactEmail' | 'email' | 'intent'> {
  hashedEmail: string | null;
  primaryContactEmail: string | null;
  email: string | null;
  intent: { score: number | string | null; topicOverlap: number; matchedTopics: LeadpipeTopic[] };
}

/**
 * Field names of a result row, nested with dots, in the order of the sandbox's CSV header. Stats fill
 * rates use the same names (reference §5).
 */
export const LEADPIPE_RESULT_FIELDS = [
  'hashedEmail',
  'primaryContactEmail',
  'businessEmail',
  'personalEmail',
  'email',
  'firstName',
  'lastName',
  'fullName',
  'jobTitle',
  'headline',
  'seniority',
  'department',
  'phone',
  'linkedinUrl',
  'company.name',
  'company.domain',
  'company.industry',
  'intent.score',
  'intent.topicOverlap',
  'intent.matchedTopics',
] as const;
export type LeadpipeResultField = (typeof LEADPIPE_RESULT_FIELDS)[number];

export const MALFORMED_DEFECTS = [
  'score-not-a-number',
  'score-zero',
  'score-over-100',
  'score-empty',
  'hash-invalid-no-email',
  'no-identity',
  'ragged',
] as const;
export type MalformedDefect = (typeof MALFORMED_DEFECTS)[number];

export interface GeneratedPersonRow {
  kind: 'person';
  /** 0-based row index (the data line is index + 2 in a CSV with a header). */
  index: number;
  person: LeadpipeResultRow;
  /** Index of the earlier row this person repeats (same hashedEmail), or null for a first appearance. */
  duplicateOf: number | null;
}

export interface GeneratedMalformedRow {
  kind: 'malformed';
  index: number;
  defect: MalformedDefect;
  person: LeadpipeLooseResultRow;
  /** For `ragged`: the field whose cell is left out of the CSV line (the JSON row is unaffected). */
  missingField: LeadpipeResultField | null;
}

export type GeneratedRow = GeneratedPersonRow | GeneratedMalformedRow;

export type TopicsFormat = 'json' | 'delimited';

export interface GeneratePeopleOptions {
  seed: number | string;
  /** How many rows to yield (duplicates and malformed rows included). */
  count: number;
  /** Index of the first row (default 0). Rows are the same whatever the start: used for paging. */
  start?: number;
  /** Share of rows that repeat an earlier person (default 0.02). */
  duplicateShare?: number;
  /** Share of rows made invalid on purpose (default 0). */
  malformedShare?: number;
  /** The audience's topics; each person matches 1–3 of them (default DEFAULT_TOPICS). */
  topics?: readonly LeadpipeTopic[];
  /**
   * How `intent.matchedTopics` is written when these rows become CSV (default 'json'). The rows do not
   * depend on it; it sits here so one options object drives `writeExportFile` and the sandbox export.
   */
  topicsFormat?: TopicsFormat;
}

/** Realistic B2B topics. 117805 "Marketing ROI" is the one in Leadpipe's docs; the others are made up. */
export const DEFAULT_TOPICS: readonly LeadpipeTopic[] = [
  { topicId: 117805, topicName: 'Marketing ROI', type: 'b2b', industry: 'Marketing', category: 'Service' },
  { topicId: 117890, topicName: 'Marketing Automation', type: 'b2b', industry: 'Marketing', category: 'Software' },
  { topicId: 117918, topicName: 'Account-Based Marketing', type: 'b2b', industry: 'Marketing', category: 'Service' },
  { topicId: 118021, topicName: 'Customer Data Platform', type: 'b2b', industry: 'Marketing', category: 'Software' },
  { topicId: 118164, topicName: 'Sales Engagement', type: 'b2b', industry: 'Sales', category: 'Software' },
  { topicId: 118233, topicName: 'Revenue Operations', type: 'b2b', industry: 'Sales', category: 'Service' },
  { topicId: 118407, topicName: 'Intent Data', type: 'b2b', industry: 'Sales', category: 'Service' },
  { topicId: 118512, topicName: 'Lead Scoring', type: 'b2b', industry: 'Sales', category: 'Software' },
  { topicId: 118640, topicName: 'CRM Software', type: 'b2b', industry: 'Sales', category: 'Software' },
  { topicId: 119032, topicName: 'Cloud Cost Management', type: 'b2b', industry: 'Technology', category: 'Software' },
  { topicId: 119145, topicName: 'Endpoint Security', type: 'b2b', industry: 'Technology', category: 'Software' },
  { topicId: 119288, topicName: 'Zero Trust Security', type: 'b2b', industry: 'Technology', category: 'Service' },
  { topicId: 119406, topicName: 'Spend Management', type: 'b2b', industry: 'Finance', category: 'Software' },
  { topicId: 119517, topicName: 'Accounts Payable Automation', type: 'b2b', industry: 'Finance', category: 'Software' },
  { topicId: 119653, topicName: 'Data Warehousing', type: 'b2b', industry: 'Technology', category: 'Software' },
  { topicId: 119904, topicName: 'Employee Onboarding', type: 'b2b', industry: 'Human Resources', category: 'Software' },
];

// --- vocabulary -------------------------------------------------------------------------------------
// Names are lower-case because Leadpipe sends them that way. Their ASCII forms (see asciiFold) are
// distinct within each list: two names folding to the same email local part would make two people
// share an email.

const FIRST_NAMES: readonly string[] = [
  'james', 'mary', 'robert', 'patricia', 'john', 'jennifer', 'michael', 'linda', 'david', 'elizabeth',
  'william', 'barbara', 'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah', 'christopher', 'karen',
  'charles', 'lisa', 'daniel', 'nancy', 'matthew', 'betty', 'anthony', 'sandra', 'mark', 'margaret',
  'steven', 'ashley', 'paul', 'kimberly', 'andrew', 'emily', 'joshua', 'donna', 'kevin', 'michelle',
  'brian', 'carol', 'george', 'amanda', 'timothy', 'melissa', 'ryan', 'deborah', 'jason', 'stephanie',
  'jacob', 'rebecca', 'gary', 'sharon', 'nicholas', 'laura', 'eric', 'cynthia', 'jonathan', 'amy',
  'priya', 'raj', 'wei', 'mei', 'hiroshi', 'yuki', 'aisha', 'omar', 'fatima', 'ahmed',
  'carlos', 'maria', 'luis', 'ana', 'diego', 'sofia', 'pierre', 'claire', 'lukas', 'anna',
  'lars', 'ingrid', 'sherry', 'christine', 'tomasz', 'katarzyna', 'olga', 'ivan', 'nikhil', 'ananya',
  'min-jun', 'seo-yeon', 'kwame', 'amara', 'tariq', 'leila', 'mateo', 'valentina', 'noah', 'grace',
  // non-ASCII, as real exports contain them
  'josé', 'zoë', 'søren', 'jürgen', 'françois', 'björn', 'åsa', 'łukasz', 'renée', 'chloé',
  'andré', 'mikaël', 'inès', 'jörg', 'ólafur', 'małgorzata', 'núria', 'günther', 'hélène', 'sebastián',
];

const LAST_NAMES: readonly string[] = [
  'smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez',
  'hernandez', 'lopez', 'gonzalez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin',
  'lee', 'perez', 'thompson', 'white', 'harris', 'sanchez', 'clark', 'ramirez', 'lewis', 'robinson',
  'walker', 'young', 'allen', 'king', 'wright', 'scott', 'torres', 'nguyen', 'hill', 'flores',
  'green', 'adams', 'nelson', 'baker', 'hall', 'rivera', 'campbell', 'mitchell', 'carter', 'roberts',
  'patel', 'shah', 'kumar', 'singh', 'chen', 'wang', 'li', 'zhang', 'liu', 'kim',
  'park', 'choi', 'tanaka', 'sato', 'suzuki', 'okafor', 'mensah', 'haddad', 'khan', 'ali',
  'cohen', 'levy', 'schmidt', 'schneider', 'fischer', 'weber', 'meyer', 'wagner', 'becker', 'hoffmann',
  'rossi', 'russo', 'ferrari', 'bianchi', 'dubois', 'lefebvre', 'moreau', 'laurent', 'jensen', 'nielsen',
  'hansen', 'larsen', 'kowalski', 'nowak', 'ivanova', 'petrov', "o'brien", 'murphy', 'kelly', 'sullivan',
  'van der berg', 'de vries', 'lynn', 'reyes', 'morales',
  // non-ASCII
  'müller', 'núñez', 'sørensen', 'gonçalves', 'dvořák', 'østergaard', 'åberg', 'löfgren', 'peña', 'żukowski',
  'šimková', 'björklund', 'gómez', 'jiménez', 'fernández', 'kühn', 'søndergaard', 'çelik', 'yılmaz', 'öztürk',
];

const COMPANY_PREFIXES: readonly string[] = [
  'northwind', 'bluepeak', 'brightline', 'cobalt', 'summit', 'ironwood', 'clearwater', 'redwood',
  'silverline', 'keystone', 'lumen', 'vertex', 'harbor', 'pinecrest', 'quantum', 'stonebridge',
  'evergreen', 'granite', 'meridian', 'polaris', 'crescent', 'falcon', 'sterling', 'cedar',
  'atlas', 'beacon', 'orchid', 'horizon', 'nimbus', 'apex', 'copperleaf', 'wavecrest',
  'tidewater', 'kestrel', 'larkspur', 'northstar', 'riverbend', 'sunridge', 'trailhead', 'willow',
];

/** Company name suffix → the industry such a company is usually in (LinkedIn industry names, lower-case). */
const COMPANY_SUFFIXES: ReadonlyArray<{ word: string; industry: string; tlds: readonly string[] }> = [
  { word: 'analytics', industry: 'software development', tlds: ['com', 'io', 'ai'] },
  { word: 'labs', industry: 'software development', tlds: ['com', 'io'] },
  { word: 'software', industry: 'software development', tlds: ['com'] },
  { word: 'cloud', industry: 'software development', tlds: ['com', 'io'] },
  { word: 'data', industry: 'software development', tlds: ['com', 'ai'] },
  { word: 'systems', industry: 'it services and it consulting', tlds: ['com', 'net'] },
  { word: 'technologies', industry: 'it services and it consulting', tlds: ['com'] },
  { word: 'networks', industry: 'telecommunications', tlds: ['com', 'net'] },
  { word: 'security', industry: 'computer and network security', tlds: ['com', 'io'] },
  { word: 'health', industry: 'hospitals and health care', tlds: ['com', 'org'] },
  { word: 'bio', industry: 'biotechnology research', tlds: ['com'] },
  { word: 'capital', industry: 'financial services', tlds: ['com'] },
  { word: 'financial', industry: 'financial services', tlds: ['com'] },
  { word: 'logistics', industry: 'transportation, logistics, supply chain and storage', tlds: ['com'] },
  { word: 'robotics', industry: 'automation machinery manufacturing', tlds: ['com', 'ai'] },
  { word: 'energy', industry: 'renewable energy power generation', tlds: ['com'] },
  { word: 'foods', industry: 'food and beverage manufacturing', tlds: ['com'] },
  { word: 'media', industry: 'marketing services', tlds: ['com', 'co'] },
  { word: 'partners', industry: 'business consulting and services', tlds: ['com'] },
  { word: 'group', industry: 'business consulting and services', tlds: ['com', 'co'] },
];

interface JobTitle {
  title: string;
  seniority: string;
  department: string;
}

const JOB_TITLES: readonly JobTitle[] = [
  { title: 'chief marketing officer', seniority: 'c_suite', department: 'marketing' },
  { title: 'vp of marketing', seniority: 'vp', department: 'marketing' },
  { title: 'director of marketing operations', seniority: 'director', department: 'marketing' },
  { title: 'senior director product marketing', seniority: 'director', department: 'marketing' },
  { title: 'marketing manager', seniority: 'manager', department: 'marketing' },
  { title: 'demand generation manager', seniority: 'manager', department: 'marketing' },
  { title: 'content marketing specialist', seniority: 'entry', department: 'marketing' },
  { title: 'chief revenue officer', seniority: 'c_suite', department: 'sales' },
  { title: 'vp of sales', seniority: 'vp', department: 'sales' },
  { title: 'regional sales director', seniority: 'director', department: 'sales' },
  { title: 'account executive', seniority: 'senior', department: 'sales' },
  { title: 'sales development representative', seniority: 'entry', department: 'sales' },
  { title: 'revenue operations manager', seniority: 'manager', department: 'operations' },
  { title: 'chief financial officer', seniority: 'c_suite', department: 'finance' },
  { title: 'vp of finance', seniority: 'vp', department: 'finance' },
  { title: 'controller', seniority: 'director', department: 'finance' },
  { title: 'senior financial analyst', seniority: 'senior', department: 'finance' },
  { title: 'accounts payable specialist', seniority: 'entry', department: 'finance' },
  { title: 'chief technology officer', seniority: 'c_suite', department: 'engineering' },
  { title: 'vp of engineering', seniority: 'vp', department: 'engineering' },
  { title: 'engineering manager', seniority: 'manager', department: 'engineering' },
  { title: 'senior software engineer', seniority: 'senior', department: 'engineering' },
  { title: 'data engineer', seniority: 'senior', department: 'engineering' },
  { title: 'chief information officer', seniority: 'c_suite', department: 'information technology' },
  { title: 'it director', seniority: 'director', department: 'information technology' },
  { title: 'security operations manager', seniority: 'manager', department: 'information technology' },
  { title: 'head of product', seniority: 'director', department: 'product' },
  { title: 'product manager', seniority: 'manager', department: 'product' },
  { title: 'chief executive officer', seniority: 'c_suite', department: 'executive' },
  { title: 'founder', seniority: 'owner', department: 'executive' },
  { title: 'chief operating officer', seniority: 'c_suite', department: 'operations' },
  { title: 'operations director', seniority: 'director', department: 'operations' },
  { title: 'procurement manager', seniority: 'manager', department: 'operations' },
  { title: 'vp of people', seniority: 'vp', department: 'human resources' },
  { title: 'talent acquisition manager', seniority: 'manager', department: 'human resources' },
  { title: 'customer success manager', seniority: 'manager', department: 'customer success' },
  { title: 'director of customer success', seniority: 'director', department: 'customer success' },
  { title: 'general counsel', seniority: 'vp', department: 'legal' },
];

const SENIORITIES: readonly string[] = ['c_suite', 'vp', 'director', 'manager', 'senior', 'entry', 'owner'];
const DEPARTMENTS: readonly string[] = [
  'marketing', 'sales', 'finance', 'engineering', 'operations', 'information technology', 'product',
  'human resources', 'customer success',
];
const HEADLINE_TAGS: readonly string[] = [
  'b2b saas', 'growth', 'revenue leader', 'building high-performing teams', 'data-driven marketing',
  'fintech', 'go-to-market', 'helping teams scale',
];

/** Free-mail providers with rough market weights (all are in config/default.json freeMailDomains). */
const PERSONAL_DOMAINS: ReadonlyArray<readonly [string, number]> = [
  ['gmail.com', 0.55],
  ['yahoo.com', 0.12],
  ['outlook.com', 0.1],
  ['hotmail.com', 0.08],
  ['icloud.com', 0.07],
  ['aol.com', 0.03],
  ['proton.me', 0.03],
  ['gmx.de', 0.02],
];

const US_AREA_CODES: readonly number[] = [212, 415, 512, 617, 646, 720, 312, 206, 404, 305, 214, 303, 503, 619, 919];

// --- fill rates (reference §5 stats example) --------------------------------------------------------
const P_FIRST_NAME = 0.68;
const P_COMPANY = 0.46;
const P_BUSINESS_EMAIL_WITH_COMPANY = 0.85;
const P_PERSONAL_EMAIL_WITH_BUSINESS = 0.5;
const P_JOB_TITLE = 0.39;
const P_LINKEDIN = 0.38;
const P_PHONE = 0.3;

const DEFAULT_DUPLICATE_SHARE = 0.02;
/** A duplicate repeats someone from at most this many rows earlier: re-appearances cluster, as in real runs. */
const DUPLICATE_WINDOW = 5000;
const DUPLICATE_ATTEMPTS = 8;

// --- identity space ---------------------------------------------------------------------------------

interface Company {
  name: string;
  domain: string;
  industry: string;
}

const COMPANIES: readonly Company[] = COMPANY_SUFFIXES.flatMap((suffix, s) =>
  COMPANY_PREFIXES.map((prefix, p) => {
    // The TLD is a property of the company, so it must not depend on the seed or the row.
    const tld = suffix.tlds[hashSeed('tld', s, p) % suffix.tlds.length] ?? 'com';
    return { name: `${prefix} ${suffix.word}`, domain: `${prefix}${suffix.word}.${tld}`, industry: suffix.industry };
  }),
);

const ID_BITS = 24;
const ID_MASK = (1 << ID_BITS) - 1;
/** Distinct (first name, last name, company) triples; one per fresh person before the cycle repeats. */
const IDENTITY_SPACE = FIRST_NAMES.length * LAST_NAMES.length * COMPANIES.length;
if (IDENTITY_SPACE > ID_MASK + 1) throw new Error('generate-people: identity space exceeds the 24-bit permutation');

/** Lower-case ASCII for email local parts and LinkedIn slugs: "søren" → "soren", "o'brien" → "obrien". */
function asciiFold(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ø/g, 'o')
    .replace(/æ/g, 'ae')
    .replace(/ł/g, 'l')
    .replace(/ß/g, 'ss')
    .replace(/ı/g, 'i')
    .replace(/[^a-z0-9]/g, '');
}

/** Folded once at load: folding per row (NFD normalization) was a tenth of the generation time. */
const FIRST_NAMES_ASCII = FIRST_NAMES.map(asciiFold);
const LAST_NAMES_ASCII = LAST_NAMES.map(asciiFold);

interface Context {
  seed: number;
  keys: readonly [number, number, number];
  duplicateShare: number;
  malformedShare: number;
  topics: readonly LeadpipeTopic[];
}

/**
 * A keyed bijection on [0, IDENTITY_SPACE): xor-shift/odd-multiply rounds are each invertible on 24 bits,
 * and cycle-walking maps the 2^24 domain back into the identity space. Distinct indexes → distinct people.
 */
function permuteIdentity(index: number, keys: Context['keys']): number {
  let x = index;
  do {
    x = (x ^ keys[0]) & ID_MASK;
    x = Math.imul(x, keys[1]) & ID_MASK;
    x ^= x >>> 12;
    x = Math.imul(x, keys[2]) & ID_MASK;
    x ^= x >>> 11;
  } while (x >= IDENTITY_SPACE);
  return x;
}

/** Index into a vocabulary list; out of range is a bug in the identity arithmetic, not bad input. */
function at<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new RangeError(`generate-people: index ${index} outside a list of ${list.length}`);
  return value;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function drawScore(rng: Random): number {
  // Roughly the stats example's histogram: 16% 50–69, 73% 70–89, 11% 90–99.
  const r = rng.next();
  if (r < 0.16) return rng.int(50, 69);
  if (r < 0.89) return rng.int(70, 89);
  return rng.int(90, 99);
}

function drawTopics(rng: Random, topics: readonly LeadpipeTopic[]): LeadpipeTopic[] {
  const r = rng.next();
  const count = r < 0.55 ? 1 : r < 0.85 ? 2 : 3;
  return rng.sample(topics, count);
}

function drawPhone(rng: Random): string {
  const r = rng.next();
  if (r < 0.78) {
    const exchange = rng.int(200, 999);
    // 555 exchanges are fictional in the NANP; keep numbers looking real.
    const safeExchange = exchange === 555 ? 556 : exchange;
    return `+1${rng.pick(US_AREA_CODES)}${safeExchange}${String(rng.int(0, 9999)).padStart(4, '0')}`;
  }
  if (r < 0.9) return `+447${rng.int(100_000_000, 999_999_999)}`;
  return `+4915${rng.int(1, 9)}${rng.int(1_000_000, 9_999_999)}`;
}

function drawPersonalDomain(rng: Random): string {
  let r = rng.next();
  for (const [domain, weight] of PERSONAL_DOMAINS) {
    if (r < weight) return domain;
    r -= weight;
  }
  return 'gmail.com';
}

function rowRandom(ctx: Context, index: number): Random {
  return createRandom(mixSeed(ctx.seed, index));
}

type RowKind = 'person' | 'duplicate' | 'malformed';

function kindOf(ctx: Context, draw: number): RowKind {
  if (draw < ctx.malformedShare) return 'malformed';
  if (draw < ctx.malformedShare + ctx.duplicateShare) return 'duplicate';
  return 'person';
}

/** Builds the person of row `index`; `rng` is that row's PRNG after its kind draw. */
function buildPerson(ctx: Context, index: number, rng: Random): LeadpipeResultRow {
  const cycle = Math.floor(index / IDENTITY_SPACE);
  const id = permuteIdentity(index % IDENTITY_SPACE, ctx.keys);
  const firstIndex = id % FIRST_NAMES.length;
  const lastIndex = Math.floor(id / FIRST_NAMES.length) % LAST_NAMES.length;
  const companyIndex = Math.floor(id / (FIRST_NAMES.length * LAST_NAMES.length));
  const first = at(FIRST_NAMES, firstIndex);
  const last = at(LAST_NAMES, lastIndex);
  const company = at(COMPANIES, companyIndex);
  const a = at(FIRST_NAMES_ASCII, firstIndex);
  const b = at(LAST_NAMES_ASCII, lastIndex);
  // Only beyond IDENTITY_SPACE rows do identities repeat; the cycle number keeps their emails apart.
  const cycleTag = cycle === 0 ? '' : String(cycle);

  const hasCompany = rng.chance(P_COMPANY);
  let businessEmail: string | null = null;
  if (hasCompany && rng.chance(P_BUSINESS_EMAIL_WITH_COMPANY)) {
    const separator = rng.pick(['.', '.', '.', '.', '_', '-']);
    businessEmail = `${a}${separator}${b}${cycleTag}@${company.domain}`;
  }
  let personalEmail: string | null = null;
  if (businessEmail === null || rng.chance(P_PERSONAL_EMAIL_WITH_BUSINESS)) {
    // The company index makes the local part unique for this (first, last) pair, like the digits
    // people add when their name is taken.
    const separator = rng.pick(['.', '.', '_']);
    personalEmail = `${a}${separator}${b}${companyIndex + 1}${cycleTag}@${drawPersonalDomain(rng)}`;
  }
  const primaryContactEmail = businessEmail ?? personalEmail ?? '';

  const firstName = rng.chance(P_FIRST_NAME) ? first : null;
  const lastName = rng.chance(firstName !== null ? 0.96 : 0.05) ? last : null;
  const fullName = firstName !== null || lastName !== null ? [firstName, lastName].filter(Boolean).join(' ') : null;

  const job = rng.chance(P_JOB_TITLE) ? rng.pick(JOB_TITLES) : null;
  const seniority = job ? (rng.chance(0.9) ? job.seniority : null) : rng.chance(0.08) ? rng.pick(SENIORITIES) : null;
  const department = job
    ? rng.chance(0.85)
      ? job.department
      : null
    : rng.chance(0.08)
      ? rng.pick(DEPARTMENTS)
      : null;
  let headline: string | null = null;
  if (job && rng.chance(0.5)) {
    headline =
      hasCompany && rng.chance(0.6) ? `${job.title} at ${company.name}` : `${job.title} | ${rng.pick(HEADLINE_TAGS)}`;
  }

  const phone = rng.chance(P_PHONE) ? drawPhone(rng) : null;
  const linkedinUrl = rng.chance(P_LINKEDIN)
    ? `https://www.linkedin.com/in/${a}-${b}-${rng.int(0, 0xffffff).toString(16).padStart(6, '0')}`
    : null;
  const industry = hasCompany && rng.chance(0.92) ? company.industry : null;
  const matchedTopics = drawTopics(rng, ctx.topics);

  return {
    hashedEmail: sha256Hex(primaryContactEmail.trim().toLowerCase()),
    primaryContactEmail,
    businessEmail,
    personalEmail,
    // In Leadpipe's example `email` is the personal address when there is one.
    email: personalEmail ?? primaryContactEmail,
    firstName,
    lastName,
    fullName,
    jobTitle: job ? job.title : null,
    headline,
    seniority,
    department,
    phone,
    linkedinUrl,
    company: {
      name: hasCompany ? company.name : null,
      domain: hasCompany ? company.domain : null,
      industry,
    },
    intent: { score: drawScore(rng), topicOverlap: matchedTopics.length, matchedTopics },
  };
}

/** The person a fresh row `index` holds (rebuilt from scratch: nothing is remembered). */
function personAt(ctx: Context, index: number): LeadpipeResultRow {
  const rng = rowRandom(ctx, index);
  rng.next(); // the kind draw
  return buildPerson(ctx, index, rng);
}

type EmailCase = 'title' | 'upper' | 'upper-domain';

function recaseEmail(email: string | null, style: EmailCase): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  switch (style) {
    case 'upper':
      return email.toUpperCase();
    case 'upper-domain':
      return `${local}@${domain.toUpperCase()}`;
    case 'title': {
      const title = (part: string): string => part.replace(/(^|[._-])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
      return `${title(local)}@${title(domain)}`;
    }
  }
}

/** The same person seen again: same hashedEmail, new score, maybe other topics, emails in another case. */
function reappear(ctx: Context, original: LeadpipeResultRow, rng: Random): LeadpipeResultRow {
  const style = rng.pick<EmailCase>(['title', 'upper', 'upper-domain']);
  const score = 50 + ((original.intent.score - 50 + rng.int(1, 49)) % 50);
  const matchedTopics = rng.chance(0.5) ? drawTopics(rng, ctx.topics) : original.intent.matchedTopics;
  return {
    ...original,
    primaryContactEmail: recaseEmail(original.primaryContactEmail, style) ?? original.primaryContactEmail,
    businessEmail: recaseEmail(original.businessEmail, style),
    personalEmail: recaseEmail(original.personalEmail, style),
    email: recaseEmail(original.email, style) ?? original.email,
    intent: { score, topicOverlap: matchedTopics.length, matchedTopics },
  };
}

const RAGGED_FIELDS: readonly LeadpipeResultField[] = [
  'headline',
  'seniority',
  'department',
  'phone',
  'linkedinUrl',
  'company.industry',
  'intent.topicOverlap',
];

function malform(person: LeadpipeResultRow, index: number, rng: Random): GeneratedMalformedRow {
  const defect = rng.pick(MALFORMED_DEFECTS);
  const bad: LeadpipeLooseResultRow = { ...person, intent: { ...person.intent } };
  const noEmail = (): void => {
    bad.primaryContactEmail = null;
    bad.businessEmail = null;
    bad.personalEmail = null;
    bad.email = null;
  };
  let missingField: LeadpipeResultField | null = null;
  switch (defect) {
    case 'score-not-a-number':
      bad.intent.score = 'abc';
      break;
    case 'score-zero':
      bad.intent.score = 0;
      break;
    case 'score-over-100':
      bad.intent.score = 101;
      break;
    case 'score-empty':
      bad.intent.score = null;
      break;
    case 'hash-invalid-no-email':
      // Right length, wrong alphabet: a parser must check the characters, not only the length.
      bad.hashedEmail = `zz${person.hashedEmail.slice(2)}`.replace(/[a-f]/g, 'x');
      noEmail();
      break;
    case 'no-identity':
      bad.hashedEmail = null;
      noEmail();
      break;
    case 'ragged':
      missingField = rng.pick(RAGGED_FIELDS);
      break;
  }
  return { kind: 'malformed', index, defect, person: bad, missingField };
}

function rowAt(ctx: Context, index: number): GeneratedRow {
  const rng = rowRandom(ctx, index);
  const kind = kindOf(ctx, rng.next());
  if (kind === 'malformed') return malform(buildPerson(ctx, index, rng), index, rng);
  if (kind === 'duplicate' && index > 0) {
    const window = Math.min(index, DUPLICATE_WINDOW);
    for (let attempt = 0; attempt < DUPLICATE_ATTEMPTS; attempt++) {
      const target = index - rng.int(1, window);
      // Only a fresh row is repeated, so a duplicate never points at a malformed or repeated row.
      if (kindOf(ctx, rowRandom(ctx, target).next()) === 'person') {
        return { kind: 'person', index, person: reappear(ctx, personAt(ctx, target), rng), duplicateOf: target };
      }
    }
  }
  return { kind: 'person', index, person: buildPerson(ctx, index, rng), duplicateOf: null };
}

function share(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`generatePeople: ${name} must be between 0 and 1, got ${v}`);
  return v;
}

function createContext(options: GeneratePeopleOptions): Context {
  const duplicateShare = share('duplicateShare', options.duplicateShare, DEFAULT_DUPLICATE_SHARE);
  const malformedShare = share('malformedShare', options.malformedShare, 0);
  if (duplicateShare + malformedShare > 1) {
    throw new RangeError('generatePeople: duplicateShare + malformedShare must not exceed 1');
  }
  const topics = options.topics ?? DEFAULT_TOPICS;
  if (topics.length === 0) throw new RangeError('generatePeople: topics must not be empty');
  const seed = typeof options.seed === 'number' && Number.isInteger(options.seed) ? options.seed >>> 0 : hashSeed(options.seed);
  return {
    seed,
    // Multipliers must be odd to be invertible modulo 2^24.
    keys: [hashSeed(seed, 'k0') & ID_MASK, hashSeed(seed, 'k1') | 1, hashSeed(seed, 'k2') | 1],
    duplicateShare,
    malformedShare,
    topics,
  };
}

function* rows(ctx: Context, start: number, count: number): Generator<GeneratedRow, void, undefined> {
  for (let i = start; i < start + count; i++) yield rowAt(ctx, i);
}

/**
 * Yields `count` rows starting at row `start`, one at a time and in constant memory. The same options
 * always yield the same rows. Options are checked when called, not on the first `next()`.
 */
export function generatePeople(options: GeneratePeopleOptions): Generator<GeneratedRow, void, undefined> {
  const start = options.start ?? 0;
  if (!Number.isSafeInteger(options.count) || options.count < 0) {
    throw new RangeError(`generatePeople: count must be a non-negative integer, got ${options.count}`);
  }
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RangeError(`generatePeople: start must be a non-negative integer, got ${start}`);
  }
  return rows(createContext(options), start, options.count);
}
