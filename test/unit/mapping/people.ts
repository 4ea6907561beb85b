/** Small, realistic people for the mapping tests. */
import type { IntentPerson } from '../../../src/ingest/types';
import { loadMapping } from '../../../src/mapping/load-mapping';
import type { MapContext } from '../../../src/mapping/map-person';

export const mapping = loadMapping('hubspot');

export const HASH = 'a'.repeat(64);

export const context: MapContext = {
  runId: 'run_01',
  audienceId: 'aud_42',
  audienceName: 'CRM buyers — EMEA',
  intentAt: '2026-11-20T08:30:00Z',
};

export const fullPerson: IntentPerson = {
  key: HASH,
  hashedEmail: HASH,
  emails: [
    { address: 'jane.doe@acme.com', sha256: HASH, kind: 'business' },
    { address: 'jane@gmail.com', sha256: 'b'.repeat(64), kind: 'personal' },
  ],
  firstName: 'Jane',
  lastName: 'Doe',
  fullName: 'Jane Doe',
  jobTitle: 'VP Revenue Operations',
  headline: 'RevOps leader',
  seniority: 'VP',
  department: 'Operations',
  phone: '+14155550100',
  linkedinUrl: 'https://www.linkedin.com/in/janedoe',
  company: { name: 'Acme Inc', domain: 'acme.com', industry: 'Computer Software' },
  score: 87,
  topics: ['CRM software', 'Intent data', 'ABM'],
  extra: { 'Custom Column': 'x' },
  line: 2,
  rows: 1,
};

/** Only what Leadpipe always sends: a hash, a score, no topics, no company. */
export const sparsePerson: IntentPerson = {
  key: 'c'.repeat(64),
  hashedEmail: 'c'.repeat(64),
  emails: [{ address: 'sam@example.org', sha256: 'd'.repeat(64), kind: 'primary' }],
  company: {},
  score: 12,
  topics: [],
  extra: {},
  line: 3,
  rows: 1,
};
