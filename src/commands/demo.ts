/**
 * `orbit-sync demo`: the whole pipeline with no credentials. It grows with each issue; today it
 *
 * 1. starts the Leadpipe sandbox on a free loopback port with a generated audience (seeded, with a few
 *    duplicate people and malformed rows, as real exports have);
 * 2. talks to it with the real Leadpipe client: lists audiences and runs, picks the newest completed run;
 * 3. streams that run's export through a stored export (signed URL) into the ingest pipeline;
 * 4. prints the inspect report and checks that every row of the run is accounted for: the rows read equal
 *    the run's `resultCount`, and rows = valid + quarantined, people = valid − duplicates (each counted
 *    on its own by the pipeline).
 */
import type { Config } from '../config';
import { createLeadpipeClient } from '../leadpipe/client';
import { startLeadpipeSandbox } from '../sandbox/leadpipe/server';
import { formatReport } from '../inspect/format-report';
import { inspectStream, type Io } from './inspect';

export interface DemoOptions {
  people: number;
  seed: number;
  json?: boolean | undefined;
}

export async function runDemoCommand(options: DemoOptions, config: Config, io: Io): Promise<number> {
  const say = (line: string): void => {
    if (!options.json) io.stderr.write(line + '\n');
  };
  const sandbox = await startLeadpipeSandbox({
    seed: options.seed,
    peoplePerRun: options.people,
    duplicateShare: 0.02,
    malformedShare: 0.005,
  });
  try {
    say(`Leadpipe sandbox listening on ${sandbox.url}`);
    const client = createLeadpipeClient({
      ...config.leadpipe,
      apiKey: sandbox.apiKey,
      baseUrl: sandbox.url,
      allowLoopbackDownloads: true,
    });
    const audiences = await client.listAudiences({ status: 'active' });
    const audience = audiences[0];
    if (!audience) throw new Error('the sandbox has no audience');
    const runs = await client.listRuns(audience.id, { limit: 25 });
    const run = runs.find((r) => r.status === 'completed');
    if (!run) throw new Error('the sandbox audience has no completed run');
    say(`audience "${audience.name}" (${audience.id}), newest completed run ${run.id} (${run.dataDate ?? 'no date'}, ${run.resultCount ?? '?'} rows)`);

    say('downloading the run export through a signed URL and ingesting it…');
    const stream = await client.downloadExport(audience.id, run.id);
    const report = await inspectStream(stream, { audienceId: audience.id, runId: run.id }, config, { maxRows: 20 });

    const reconciles =
      report.rows === run.resultCount &&
      report.rows === report.valid + report.quarantined &&
      report.people === report.valid - report.duplicates;
    if (options.json) io.stdout.write(JSON.stringify({ ...report, reconciles }) + '\n');
    else {
      io.stdout.write(formatReport(report));
      io.stdout.write(
        `\nevery row accounted for (rows = the run's ${run.resultCount ?? '?'} rows = valid + quarantined; people = valid − duplicates): ${reconciles ? 'yes' : 'NO'}\n`,
      );
      io.stdout.write('Next: syncing these people into the HubSpot and Salesforce sandboxes lands with issues #3 and #4.\n');
    }
    return reconciles ? 0 : 1;
  } finally {
    await sandbox.close();
  }
}
