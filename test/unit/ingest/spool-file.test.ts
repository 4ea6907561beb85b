import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eachLine, readSpoolLines, SpoolWriter } from '../../../src/ingest/spool-file';

describe('spool file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orbit-sync-spool-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function readAll(file: string, bufferSize: number): Promise<string[]> {
    const lines: string[] = [];
    for await (const block of readSpoolLines(file, bufferSize)) lines.push(...eachLine(block));
    return lines;
  }

  it('writes and reads back lines through small buffers, multi-byte characters across boundaries', async () => {
    const file = path.join(dir, 'spool');
    const writer = await SpoolWriter.create(file, 64);
    const lines = Array.from({ length: 500 }, (_, i) => `${i}:${'é李✓'.repeat(i % 7)}:${'x'.repeat(i % 90)}`);
    for (const line of lines) if (!writer.tryWrite(line)) await writer.writeLine(line);
    await writer.end();
    await writer.close();
    expect((await readFile(file, 'utf8')).split('\n').slice(0, -1)).toEqual(lines);
    expect(await readAll(file, 16)).toEqual(lines);
    expect(await readAll(file, 1 << 16)).toEqual(lines);
  });

  it('returns a last line that has no newline', async () => {
    const file = path.join(dir, 'spool');
    const writer = await SpoolWriter.create(file);
    await writer.close();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, 'one\ntwo');
    expect(await readAll(file, 4)).toEqual(['one', 'two']);
  });

  it('refuses to overwrite an existing file', async () => {
    const file = path.join(dir, 'spool');
    const writer = await SpoolWriter.create(file);
    await writer.close();
    await expect(SpoolWriter.create(file)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
