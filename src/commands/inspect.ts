/**
 * `orbit-sync inspect`: parse and validate an export (a file, or a run streamed from Leadpipe) and
 * report what a sync would get from it. Reads only; writes nothing but the optional quarantine file.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Config } from '../config';
import { ingestCsv } from '../ingest/ingest-csv';
import type { QuarantinedRow } from '../ingest/types';
import { InspectReportBuilder, type InspectReport } from '../inspect/build-report';
import { formatReport } from '../inspect/format-report';
import { createLeadpipeClient, type LeadpipeClient } from '../leadpipe/client';
import { csvCell } from '../lib/csv-cell';
import { isLoopbackHost } from '../lib/is-loopback';
import { FixConfigurationError, FixInputFileError, SyncError } from '../lib/errors';
import type { Logger } from '../lib/logger';

export interface InspectOptions {
  file?: string | undefined;
  audience?: string | undefined;
  run?: string | undefined;
  json?: boolean | undefined;
  quarantineFile?: string | undefined;
  maxRows: number;
}

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  logger?: Logger;
}

/**
 * Streams every quarantined row to a CSV file, so nothing rejected is lost, however many there are.
 * The file is opened before anything is read, so a bad path fails at once with a clear message; a
 * later write error is kept and thrown by `close()`.
 */
async function openQuarantineFile(file: string): Promise<{ write(row: QuarantinedRow): void; close(): Promise<void> }> {
  const handle = await open(file, 'w').catch((err: unknown) => {
    throw new FixInputFileError('FILE_NOT_FOUND', `Cannot write the quarantine file ${file}: ${(err as Error).message}`, { cause: err });
  });
  const out = handle.createWriteStream();
  let failure: unknown;
  out.on('error', (err) => (failure ??= err));
  out.write('line,field,code,reason\n');
  return {
    write: (row) => {
      out.write([String(row.line), row.field ?? '', row.code, row.reason].map(csvCell).join(',') + '\n');
    },
    close: async () => {
      out.end();
      await finished(out).catch((err: unknown) => (failure ??= err));
      if (failure !== undefined) throw new SyncError('FILE_NOT_FOUND', `Writing the quarantine file ${file} failed: ${failure instanceof Error ? failure.message : "unknown error"}`, { cause: failure });
    },
  };
}

/** Ingests `source` into an InspectReport. Progress goes to `onProgress` (rows read so far). */
export async function inspectStream(
  source: Readable,
  reportSource: InspectReport['source'],
  config: Pick<Config, 'columns' | 'ingest'>,
  options: { maxRows: number; onQuarantined?: (row: QuarantinedRow) => void; onProgress?: (rows: number) => void },
): Promise<InspectReport> {
  const builder = new InspectReportBuilder({ maxListedRows: options.maxRows, topTopics: config.ingest.topTopics });
  const run = ingestCsv(source, {
    columns: config.columns,
    ingest: config.ingest,
    ...(options.onProgress && { onProgress: ({ rows }: { rows: number }) => options.onProgress?.(rows) }),
  });
  for await (const event of run) {
    if (event.kind === 'person') builder.addPerson(event.person);
    else if (event.kind === 'quarantined') {
      builder.addQuarantined(event.row);
      options.onQuarantined?.(event.row);
    } else builder.addWarning(event.warning);
  }
  const { rows, valid, quarantined, duplicates, people } = run.counts;
  return builder.finish(reportSource, { rows, valid, quarantined, duplicates, people });
}

async function newestCompletedRun(client: LeadpipeClient, audienceId: string): Promise<string> {
  const runs = await client.listRuns(audienceId, { limit: 100 });
  const completed = runs
    .filter((r) => r.status === 'completed')
    .sort((a, b) => String(b.completedAt ?? b.createdAt ?? '').localeCompare(String(a.completedAt ?? a.createdAt ?? '')));
  const newest = completed[0];
  if (!newest) throw new SyncError('NOT_FOUND', `Audience ${audienceId} has no completed run yet; pass --run <id> or wait for its daily run.`);
  return newest.id;
}

export async function runInspectCommand(options: InspectOptions, config: Config, io: Io): Promise<number> {
  let source: Readable;
  let reportSource: InspectReport['source'];
  if (options.audience !== undefined) {
    if (options.file !== undefined) throw new SyncError('BAD_REQUEST', 'Give either a file or --audience, not both.');
    if (!config.leadpipe.apiKey) throw new FixConfigurationError(['LEADPIPE_API_KEY: required to read a run from Leadpipe (Settings > API Keys)']);
    const client = createLeadpipeClient({
      ...config.leadpipe,
      apiKey: config.leadpipe.apiKey,
      allowLoopbackDownloads: isLoopbackHost(new URL(config.leadpipe.baseUrl).hostname),
      ...(io.logger && { logger: io.logger }),
    });
    const runId = options.run ?? (await newestCompletedRun(client, options.audience));
    source = await client.exportCsv(options.audience, runId);
    reportSource = { audienceId: options.audience, runId };
  } else {
    if (options.file === undefined) throw new SyncError('BAD_REQUEST', 'Name an export file (orbit-sync inspect export.csv) or a run (--audience <id> [--run <id>]).');
    if (options.run !== undefined) throw new SyncError('BAD_REQUEST', '--run needs --audience.');
    if (!existsSync(options.file) || !statSync(options.file).isFile()) {
      throw new FixInputFileError('FILE_NOT_FOUND', `No such file: ${options.file}`);
    }
    source = createReadStream(options.file);
    reportSource = { file: options.file };
  }

  const quarantineOut = options.quarantineFile ? await openQuarantineFile(options.quarantineFile) : undefined;
  const showProgress = io.stderr.isTTY === true && !options.json;
  let lastShown = 0;
  let report: InspectReport;
  try {
    report = await inspectStream(source, reportSource, config, {
      maxRows: options.maxRows,
      ...(quarantineOut && { onQuarantined: (row: QuarantinedRow) => quarantineOut.write(row) }),
      ...(showProgress && {
        onProgress: (rows: number) => {
          if (rows - lastShown < 25_000) return;
          lastShown = rows;
          io.stderr.write(`\r  read ${rows.toLocaleString('en-US')} rows…`);
        },
      }),
    });
  } finally {
    if (showProgress && lastShown > 0) io.stderr.write('\r\x1b[K');
    source.destroy();
    await quarantineOut?.close();
  }
  io.stdout.write(options.json ? JSON.stringify(report) + '\n' : formatReport(report));
  return 0;
}
