/**
 * Line I/O for the dedupe spool with a fixed amount of memory: two write buffers used in turn (one is
 * filled while the other is being written, so CPU work and disk writes overlap, and writing waits for
 * the disk: backpressure) and one read buffer that is refilled in place while the previous block is
 * processed.
 *
 * The spool is over 100 MB for a 300,000-row export, written and read once per run. A fs stream would
 * allocate a new buffer for every chunk, hundreds of megabytes of short-lived buffers whose release
 * depends on the garbage collector; reused buffers make none.
 */
import { open, type FileHandle } from 'node:fs/promises';

const NEWLINE = 0x0a;
const DEFAULT_BUFFER = 1 << 18;

async function writeAll(handle: FileHandle, buffer: Buffer, length: number): Promise<void> {
  let offset = 0;
  while (offset < length) {
    const { bytesWritten } = await handle.write(buffer, offset, length - offset);
    offset += bytesWritten;
  }
}

/**
 * Appends lines to a new file (created with mode 0600; fails if it exists), opened for reading too, so
 * the caller can unlink the path at once and still read the lines back through `readBack()`: a spool
 * holds plaintext emails and names, and a file with no name cannot outlive the process, even one
 * killed with SIGKILL.
 */
export class SpoolWriter {
  private readonly buffers: [Buffer, Buffer];
  private current = 0;
  private used = 0;
  private inFlight: Promise<void> | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly handle: FileHandle,
    bufferSize: number,
  ) {
    this.buffers = [Buffer.allocUnsafe(bufferSize), Buffer.allocUnsafe(bufferSize)];
  }

  static async create(file: string, bufferSize = DEFAULT_BUFFER): Promise<SpoolWriter> {
    return new SpoolWriter(await open(file, 'wx+', 0o600), bufferSize);
  }

  /** The lines written so far, from the start of the file (call after `end()`). */
  readBack(bufferSize?: number): AsyncGenerator<string, void, undefined> {
    return readSpoolLines(this.handle, bufferSize);
  }

  /**
   * Adds one line (without its newline) if it fits in the current buffer; false if it does not, and
   * then the caller awaits `writeLine`. Saves an await per line on the hot path.
   */
  tryWrite(line: string): boolean {
    const buffer = this.buffers[this.current] as Buffer;
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (this.used + line.length * 3 + 1 > buffer.length) return false;
    this.used += buffer.write(line, this.used, 'utf8');
    buffer[this.used++] = NEWLINE;
    return true;
  }

  /** Adds one line (without its newline), writing a full buffer first if needed. */
  async writeLine(line: string): Promise<void> {
    if (this.tryWrite(line)) return;
    await this.flush();
    if (!this.tryWrite(line)) {
      // Longer than a buffer (a row with very large cells): written on its own.
      await this.settle();
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      await writeAll(this.handle, bytes, bytes.length);
    }
  }

  /** Writes what is buffered and waits for the disk. */
  async end(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  /** Closes the file (also after a failure). */
  async close(): Promise<void> {
    await this.inFlight;
    await this.handle.close();
  }

  /** Starts writing the current buffer and switches to the other one once its own write is done. */
  private async flush(): Promise<void> {
    await this.settle();
    if (this.used === 0) return;
    const buffer = this.buffers[this.current] as Buffer;
    // Caught here so a failure while the consumer is paused is not an unhandled rejection; rethrown by settle().
    this.inFlight = writeAll(this.handle, buffer, this.used).catch((err: unknown) => {
      this.failure = err instanceof Error ? err : new Error(`spool write failed: ${String(err)}`);
    });
    this.current ^= 1;
    this.used = 0;
  }

  private async settle(): Promise<void> {
    await this.inFlight;
    this.inFlight = undefined;
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Reads a file of lines (each ending with '\n'; a last line without one gets one), yielding blocks of
 * whole lines as one string each (split them with `eachLine`), through one buffer that is grown only
 * for a line longer than it. The block is decoded into a string first, which frees the buffer, so the
 * next read runs while the caller works through the block. Not splitting into an array keeps fewer
 * objects alive at a time, which matters for the heap over a long file.
 */
type ReadResult = { ok: true; bytesRead: number } | { ok: false; error: unknown };

/** A read that never rejects, so it can run unwatched while the generator is paused. */
function readInto(handle: FileHandle, buffer: Buffer, offset: number, position: number): Promise<ReadResult> {
  return handle.read(buffer, offset, buffer.length - offset, position).then(
    ({ bytesRead }) => ({ ok: true, bytesRead }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** Reads from the start of the file; a handle passed in stays open (its owner closes it). */
export async function* readSpoolLines(source: string | FileHandle, bufferSize = DEFAULT_BUFFER / 4): AsyncGenerator<string, void, undefined> {
  const handle = typeof source === 'string' ? await open(source, 'r') : source;
  let reading: Promise<ReadResult> | undefined;
  try {
    let buffer = Buffer.allocUnsafe(bufferSize);
    let filled = 0;
    let position = 0;
    reading = readInto(handle, buffer, 0, position);
    for (;;) {
      const result = await reading;
      reading = undefined;
      if (!result.ok) throw result.error instanceof Error ? result.error : new Error(`spool read failed: ${String(result.error)}`);
      if (result.bytesRead === 0) break;
      filled += result.bytesRead;
      position += result.bytesRead;
      const last = buffer.lastIndexOf(NEWLINE, filled - 1);
      let lines: string | undefined;
      if (last !== -1) {
        // Only whole lines are decoded, so a UTF-8 character is never split.
        lines = buffer.toString('utf8', 0, last + 1);
        buffer.copyWithin(0, last + 1, filled);
        filled -= last + 1;
      } else if (filled === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      reading = readInto(handle, buffer, filled, position);
      if (lines !== undefined) yield lines;
    }
    if (filled > 0) yield `${buffer.toString('utf8', 0, filled)}\n`;
  } finally {
    // A read may still be running when the consumer stops early.
    await reading;
    if (typeof source === 'string') await handle.close();
  }
}

/** The lines of a block from `readSpoolLines`, without their '\n'. */
export function* eachLine(block: string): Generator<string, void, undefined> {
  let start = 0;
  for (let end = block.indexOf('\n'); end !== -1; end = block.indexOf('\n', start)) {
    yield block.slice(start, end);
    start = end + 1;
  }
}
