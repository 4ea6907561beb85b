#!/usr/bin/env node
/**
 * The `orbit-sync` command line. Commands parse their arguments here and call into the library;
 * errors are reported in one place (`main`) with a message that says what to do and an exit code:
 * 0 done, 1 the work failed (bad file, upstream error), 2 bad usage or configuration.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadConfig, type Config } from './config';
import { describeError, FixConfigurationError, isSyncError } from './lib/errors';
import { createLogger } from './lib/logger';
import { runInspectCommand } from './commands/inspect';
import { runDemoCommand } from './commands/demo';
import { runRunsCommand, runSetupCommand, runSyncCommand } from './commands/sync';
import { runSandboxCommand } from './commands/sandbox';
import { runServeCommand } from './commands/serve';
import { writeExportFile } from './sandbox/export-csv';

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return parsed;
}

function shareOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return parsed;
}

export function buildProgram(getConfig: () => Config): Command {
  const program = new Command()
    .name('orbit-sync')
    .description('Sync Leadpipe Orbit intent audiences into HubSpot and Salesforce.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('inspect')
    .description('Parse and validate a Leadpipe export: counts, fill rates, score histogram, top topics, quarantined rows. No writes.')
    .argument('[file]', 'a run export CSV on disk')
    .option('--audience <id>', 'stream the export of this audience’s run from Leadpipe instead of a file')
    .option('--run <id>', 'the run to inspect (with --audience; default: the newest completed run)')
    .option('--json', 'print the report as one JSON object on stdout')
    .option('--quarantine-file <path>', 'write every quarantined row (line, field, code, reason) to this CSV file')
    .option('--max-rows <n>', 'quarantined rows to list in the report', positiveInt, 50)
    .action(async (file: string | undefined, opts: { audience?: string; run?: string; json?: boolean; quarantineFile?: string; maxRows: number }) => {
      const config = getConfig();
      const code = await runInspectCommand({ file, ...opts }, config, {
        stdout: process.stdout,
        stderr: process.stderr,
        logger: createLogger({ level: config.logLevel }),
      });
      process.exitCode = code;
    });

  program
    .command('generate-export')
    .description('Write a seeded, Leadpipe-shaped run export CSV (the sandbox generator), for trying inspect or benchmarking.')
    .argument('<file>', 'where to write the CSV')
    .option('--people <n>', 'rows to write (Leadpipe caps exports at 300,000)', positiveInt, 1000)
    .option('--seed <n>', 'seed (same seed and options, same bytes)', positiveInt, 42)
    .option('--duplicates <share>', 'share of rows that repeat an earlier person (0–1)', shareOption, 0.02)
    .option('--malformed <share>', 'share of rows made invalid on purpose (0–1)', shareOption, 0)
    .action(async (file: string, opts: { people: number; seed: number; duplicates: number; malformed: number }) => {
      const { rows, bytes } = await writeExportFile(file, {
        seed: opts.seed,
        count: opts.people,
        duplicateShare: opts.duplicates,
        malformedShare: opts.malformed,
      });
      process.stderr.write(`wrote ${rows.toLocaleString('en-US')} rows (${(bytes / 1e6).toFixed(1)} MB) to ${file}\n`);
    });

  program
    .command('setup')
    .description('Create the custom properties/fields orbit-sync writes (HubSpot: group "leadpipe"; Salesforce: Leadpipe_*__c fields and a permission set). Idempotent.')
    .argument('<crm>', 'hubspot or salesforce')
    .option('--json', 'print what was created as JSON')
    .action(async (crm: string, opts: { json?: boolean }) => {
      const config = getConfig();
      await runSetupCommand(crm, config, {
        stdout: process.stdout,
        stderr: process.stderr,
        logger: createLogger({ level: config.logLevel }),
        ...(opts.json !== undefined && { json: opts.json }),
      });
    });

  program
    .command('sync')
    .description('Sync one audience run (or an export file) into a CRM: contacts, companies, associations, deal priority. Resumes an interrupted sync of the same run.')
    .option('--audience <id>', 'the Leadpipe audience to sync')
    .option('--run <id>', 'the run to sync (default: the audience’s newest completed run)')
    .option('--file <export.csv>', 'sync a run export on disk instead of reading Leadpipe')
    .requiredOption('--to <crm>', 'the destination: hubspot or salesforce')
    .option('--dry-run', 'read the CRM and print what would change, field by field; write nothing')
    .option('--json', 'print the sync summary as one JSON object on stdout')
    .action(async (opts: { audience?: string; run?: string; file?: string; to: string; dryRun?: boolean; json?: boolean }) => {
      const config = getConfig();
      const { code } = await runSyncCommand(opts, config, {
        stdout: process.stdout,
        stderr: process.stderr,
        logger: createLogger({ level: config.logLevel }),
      });
      process.exitCode = code;
    });

  program
    .command('runs')
    .description('Sync history from the store: newest first, with counts and API calls.')
    .option('--limit <n>', 'how many runs to list', positiveInt, 20)
    .option('--errors <syncRunId>', 'list the record errors of one sync run instead')
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; errors?: string; json?: boolean }) => {
      const config = getConfig();
      process.exitCode = await runRunsCommand(opts, config, { stdout: process.stdout, stderr: process.stderr });
    });

  program
    .command('serve')
    .description('Run the installed app: HTTP server (dashboard, admin API, OAuth installs, webhooks, /healthz, /readyz, /metrics), scheduler and worker. Needs ENCRYPTION_KEY. Stops gracefully on SIGTERM.')
    .option('--port <port>', 'port to listen on (default: PORT, 3000)', positiveInt)
    .action(async (opts: { port?: number }) => {
      const config = getConfig();
      process.exitCode = await runServeCommand(config, createLogger({ level: config.logLevel }), opts.port === undefined ? {} : { port: opts.port });
    });

  program
    .command('sandbox')
    .description('Start the Leadpipe and HubSpot sandboxes on loopback and print how to point orbit-sync at them. Runs until Ctrl+C.')
    .option('--seed <n>', 'seed of the generated run (same seed, same people)', positiveInt, 42)
    .option('--rows <n>', 'rows in the generated run', positiveInt, 1000)
    .option('--fixture <file.csv>', 'serve this export file as the run instead of generated people')
    .option('--leadpipe-port <port>', 'port of the Leadpipe sandbox (default: a free one)', positiveInt)
    .option('--hubspot-port <port>', 'port of the HubSpot sandbox (default: a free one)', positiveInt)
    .option('--empty-portal', 'start with an empty HubSpot portal instead of one seeded from the run')
    .action(async (opts: { seed: number; rows: number; fixture?: string; leadpipePort?: number; hubspotPort?: number; emptyPortal?: boolean }) => {
      process.exitCode = await runSandboxCommand(opts, getConfig(), { stdout: process.stdout, stderr: process.stderr });
    });

  program
    .command('demo')
    .description('Start the local sandboxes, generate an audience run and process it end to end. Needs no credentials.')
    .option('--people <n>', 'people in the generated run', positiveInt, 5000)
    .option('--seed <n>', 'seed of the generated data (same seed, same data)', positiveInt, 42)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { people: number; seed: number; json?: boolean }) => {
      const config = getConfig();
      process.exitCode = await runDemoCommand(opts, config, { stdout: process.stdout, stderr: process.stderr });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let config: Config | undefined;
  const getConfig = (): Config => (config ??= loadConfig(process.env));
  const program = buildProgram(getConfig);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof FixConfigurationError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable.\n`);
      return 2;
    }
    process.stderr.write(`orbit-sync: ${describeError(err)}\n`);
    if (!isSyncError(err) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
