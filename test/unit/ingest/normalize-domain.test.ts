import { deriveCompanyDomain, normalizeDomain } from '../../../src/ingest/normalize-domain';
import { config } from './ingest-helpers';

const freeMail = new Set(config.ingest.freeMailDomains);

describe('normalizeDomain', () => {
  it.each([
    ['acme.com', 'acme.com'],
    ['  ACME.com ', 'acme.com'],
    ['https://www.acme.com/about?x=1#top', 'acme.com'],
    ['http://acme.co.uk:8080', 'acme.co.uk'],
    ['www.acme.io/', 'acme.io'],
    ['//cdn.acme.com/x', 'cdn.acme.com'],
    ['acme.com.', 'acme.com'],
    ['https://user@acme.com', 'acme.com'],
    ['müller.de', 'müller.de'],
  ])('normalizes %j', (raw, expected) => {
    expect(normalizeDomain(raw)).toBe(expected);
  });

  it.each(['n/a', 'localhost', '', 'acme', 'http://', '127.0.0.1', 'acme .com'])('rejects %j', (raw) => {
    expect(normalizeDomain(raw)).toBeNull();
  });
});

describe('deriveCompanyDomain', () => {
  it('prefers company.domain', () => {
    expect(deriveCompanyDomain({ companyDomain: 'https://www.acme.com', businessEmail: 'a@other.com' }, freeMail)).toEqual({ domain: 'acme.com' });
  });

  it("falls back to the business email's domain, then the primary email's", () => {
    expect(deriveCompanyDomain({ businessEmail: 'a@acme.com', primaryContactEmail: 'a@other.com' }, freeMail)).toEqual({ domain: 'acme.com' });
    expect(deriveCompanyDomain({ primaryContactEmail: 'a@acme.com' }, freeMail)).toEqual({ domain: 'acme.com' });
  });

  it('never takes a free-mail domain', () => {
    expect(deriveCompanyDomain({ businessEmail: 'a@gmail.com', primaryContactEmail: 'a@yahoo.co.uk' }, freeMail)).toEqual({});
    expect(deriveCompanyDomain({ businessEmail: 'a@gmail.com', primaryContactEmail: 'a@acme.com' }, freeMail)).toEqual({ domain: 'acme.com' });
    expect(deriveCompanyDomain({ companyDomain: 'gmail.com', businessEmail: 'a@acme.com' }, freeMail)).toEqual({ domain: 'acme.com', rejected: 'free-mail' });
  });

  it('says when company.domain was given but unusable', () => {
    expect(deriveCompanyDomain({ companyDomain: 'n/a' }, freeMail)).toEqual({ rejected: 'invalid' });
  });
});
