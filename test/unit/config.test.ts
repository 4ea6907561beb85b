import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG_DIR, loadConfig } from '../../src/config';
import { FixConfigurationError } from '../../src/lib/errors';

function errorOf(fn: () => unknown): FixConfigurationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FixConfigurationError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies the documented defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.leadpipe.baseUrl).toBe('https://api.aws53.cloud');
    expect(config.hubspot.baseUrl).toBe('https://api.hubapi.com');
    expect(config.salesforce.loginUrl).toBe('https://login.salesforce.com');
    expect(config.databaseUrl).toBe('./data/orbit-sync.db');
    expect(config.port).toBe(3000);
    expect(config.leadpipe.apiKey).toBeUndefined();
    // Well under Leadpipe's published 200 req/min.
    expect(config.leadpipe.requestsPerMinute).toBeLessThanOrEqual(150);
    expect(config.columns['intent.score']).toContain('intentScore');
  });

  it('reads secrets and URLs from the environment, trimming trailing slashes', () => {
    const config = loadConfig({
      LEADPIPE_API_KEY: 'sk_test_123',
      LEADPIPE_BASE_URL: 'http://127.0.0.1:4010/',
      ENCRYPTION_KEY: 'a'.repeat(64),
      PORT: '8080',
    });
    expect(config.leadpipe.apiKey).toBe('sk_test_123');
    expect(config.leadpipe.baseUrl).toBe('http://127.0.0.1:4010');
    expect(config.encryptionKey?.length).toBe(32);
    expect(config.port).toBe(8080);
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ LEADPIPE_API_KEY: '', PORT: '  ' });
    expect(config.leadpipe.apiKey).toBeUndefined();
    expect(config.port).toBe(3000);
  });

  it('lists every invalid variable in one error', () => {
    const err = errorOf(() =>
      loadConfig({ LEADPIPE_BASE_URL: 'not a url', PORT: '99999', ENCRYPTION_KEY: 'short', ADMIN_TOKEN: 'abc' }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    const vars = err.problems.map((p) => p.split(':')[0]);
    expect(vars).toEqual(expect.arrayContaining(['LEADPIPE_BASE_URL', 'PORT', 'ENCRYPTION_KEY', 'ADMIN_TOKEN']));
    expect(err.message).toContain('openssl rand -hex 32');
  });

  it('validates the config files and names the file and setting at fault', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orbit-config-'));
    const defaults = JSON.parse(readFileSync(path.join(DEFAULT_CONFIG_DIR, 'default.json'), 'utf8')) as {
      leadpipe: { requestsPerMinute: number };
    };
    defaults.leadpipe.requestsPerMinute = 500;
    writeFileSync(path.join(dir, 'default.json'), JSON.stringify(defaults));
    writeFileSync(path.join(dir, 'columns.json'), '{ "email": "not-a-list" }');
    const err = errorOf(() => loadConfig({ ORBIT_SYNC_CONFIG_DIR: dir }));
    rmSync(dir, { recursive: true });
    expect(err.problems).toHaveLength(2);
    expect(err.problems[0]).toMatch(/default\.json → leadpipe\.requestsPerMinute: .*200/);
    expect(err.problems[1]).toMatch(/columns\.json → email/);
  });

  it('reports a missing config directory instead of crashing', () => {
    const err = errorOf(() => loadConfig({ ORBIT_SYNC_CONFIG_DIR: '/nonexistent/orbit' }));
    expect(err.problems.join('\n')).toMatch(/default\.json: file not found/);
  });
});

describe('API base URLs', () => {
  it('refuse plain http except on this machine, so API keys never travel unencrypted', () => {
    expect(() => loadConfig({ LEADPIPE_BASE_URL: 'http://api.aws53.cloud' })).toThrow(/LEADPIPE_BASE_URL: must be https/);
    expect(loadConfig({ LEADPIPE_BASE_URL: 'http://127.0.0.1:4010' }).leadpipe.baseUrl).toBe('http://127.0.0.1:4010');
    expect(() => loadConfig({ LEADPIPE_BASE_URL: 'http://127.0.0.1.nip.io' })).toThrow(/must be https/);
  });
});
