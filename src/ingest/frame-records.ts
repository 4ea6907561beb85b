/**
 * A framing pass in front of csv-parse: it finds where each CSV record starts and ends, with the same
 * quote and record-delimiter rules as csv-parse (options used by parse-csv.ts: `,` delimiter, `"` quote
 * and escape, record delimiter auto-detected as CRLF, LF or CR, empty lines skipped), and passes the
 * bytes on whole records at a time. It exists because csv-parse 7 alone cannot give us three things:
 *
 * 1. The line a record STARTS on. csv-parse's `info.lines` is the line where a record ends, counts a
 *    CRLF inside a quoted value as two lines, and a rejected record has no info at all.
 * 2. Bounded memory for huge records with the file still read to the end. With
 *    `skip_records_with_error`, csv-parse's `max_record_size` error returns from the middle of a chunk
 *    and every later chunk trips it again, so the rest of the file is silently dropped (verified with
 *    csv-parse 7.0.3; see the "oversized record" tests). Here a record larger than `maxRowBytes` is
 *    never handed to csv-parse: its bytes are counted and dropped, and a `dropped` frame reports it.
 *    Its line break alone is passed on, a blank line csv-parse skips: csv-parse decides the record
 *    delimiter on the first line break it sees, by the byte after it (CR then LF is CRLF), so without
 *    it a header ending in CR followed by a dropped row and a row starting with LF made csv-parse take
 *    CRLF where the framer had taken CR, and the two disagreed on every record after.
 * 3. Where a rejected record ends, so several bad rows in a row are reported one by one.
 *
 * Each frame carries the byte range it occupies in the stream passed on, which is what csv-parse's
 * `info.bytes` counts; parse-csv.ts uses it to attach a 'skip' event to its record. Pure: no I/O.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const LINE_BREAKS: Readonly<Record<number, Buffer>> = { 1: Buffer.from([LF]), 2: Buffer.from([CR, LF]), 3: Buffer.from([CR]) };

/** Record delimiters, discovered from the first line break outside quotes (as csv-parse does). */
const DELIM_UNKNOWN = 0;
const DELIM_LF = 1;
const DELIM_CRLF = 2;
const DELIM_CR = 3;

/** Scanner states. */
const S_UNQUOTED = 0;
const S_QUOTED = 1;
/** Inside quotes, just saw `"`: an escaped quote, the closing quote or an invalid closing quote. */
const S_QUOTE_IN_QUOTED = 2;
/** Inside quotes, saw `"` then CR, record delimiter CRLF: closes only if LF follows. */
const S_QUOTE_CR = 3;
/** Inside quotes, saw `"` then CR, record delimiter not yet known: closes either way (CRLF or CR). */
const S_QUOTE_CR_DISCOVER = 4;
/** Outside quotes, saw CR with record delimiter CRLF or unknown: depends on whether LF follows. */
const S_CR = 5;

export interface RecordFrame {
  /** 1-based line of the record's first byte. */
  startLine: number;
  /** 1-based line of its last byte (later than startLine when quoted values hold line breaks). */
  endLine: number;
  /** Byte range [outStart, outEnd) in the stream passed on to the parser; empty when dropped. */
  outStart: number;
  outEnd: number;
  /** Size of the record in bytes, without its line break. */
  bytes: number;
  /** The record was larger than maxRowBytes: its bytes were dropped, not parsed. */
  dropped: boolean;
  /** The file ended inside a quoted value that started in this record. */
  unclosedQuote: boolean;
}

const SNIFF_BYTES = 512;

export class RecordFramer {
  /** The first bytes of the file after any BOM, for telling a non-CSV file apart. */
  head: Buffer = Buffer.alloc(0);
  /** The file starts with a UTF-16 byte order mark (not supported: csv-parse and this framer read UTF-8). */
  utf16 = false;

  private readonly maxRowBytes: number;
  private readonly onFrame: (frame: RecordFrame) => void;

  private started = false;
  private startBuf: Buffer = Buffer.alloc(0);
  private delim = DELIM_UNKNOWN;
  private state = S_UNQUOTED;
  /** Bytes in the current field (only zero / non-zero matters: a quote opens a field only when it is empty). */
  private fieldLen = 0;
  /** A field delimiter was seen in the current record. */
  private hasFields = false;
  /** The current field was quoted. */
  private wasQuoting = false;
  /** Line of the byte being scanned. */
  private line = 1;
  private lastWasBreak = false;
  private recStartLine = 1;
  /** Where the current record starts in the chunk being scanned (0 if it began in an earlier chunk). */
  private recStartIdx = 0;
  /** Bytes of the current record in earlier chunks. */
  private pendingBytes = 0;
  /** Those bytes, unless the record is being dropped. */
  private pending: Buffer[] = [];
  private dropping = false;
  /** Offset, in the stream passed on, where the current record starts. */
  private outCursor = 0;
  /** The chunk being scanned. */
  private currentChunk: Buffer = Buffer.alloc(0);
  /** Region [fwdStart, fwdEnd) of the current chunk that is ready to pass on. */
  private fwdStart = 0;
  private fwdEnd = 0;
  private out: Buffer[] = [];

  constructor(options: { maxRowBytes: number; onFrame: (frame: RecordFrame) => void }) {
    this.maxRowBytes = options.maxRowBytes;
    this.onFrame = options.onFrame;
  }

  /** Scans a chunk; returns the bytes (whole records) to pass on to the parser. */
  push(chunk: Buffer): Buffer[] {
    this.out = [];
    if (this.started) {
      this.scanChunk(chunk, 0);
      return this.out;
    }
    // Up to 3 bytes are needed to recognize a byte order mark.
    this.startBuf = this.startBuf.length === 0 ? chunk : Buffer.concat([this.startBuf, chunk]);
    if (this.startBuf.length >= 3) this.scanChunk(this.startBuf, this.begin(this.startBuf));
    return this.out;
  }

  /** Ends the input; returns the last bytes to pass on. */
  end(): Buffer[] {
    this.out = [];
    if (!this.started) this.scanChunk(this.startBuf, this.begin(this.startBuf));
    const endLine = this.lastWasBreak ? this.line - 1 : this.line;
    switch (this.state) {
      case S_QUOTED:
      case S_QUOTE_CR:
        // The file ends inside quotes (csv-parse: CSV_QUOTE_NOT_CLOSED).
        this.endRecordAtEof(endLine, true);
        break;
      case S_CR:
        if (this.delim === DELIM_UNKNOWN) {
          // A final lone CR is discovered as the record delimiter; it may end an empty line.
          this.delim = DELIM_CR;
          this.endRecordAtEof(this.line, false, 1);
        } else {
          this.fieldLen += 1; // a lone CR in a CRLF file is part of the value
          this.endRecordAtEof(endLine, false);
        }
        break;
      case S_QUOTE_CR_DISCOVER:
        // `"` + CR at the very end: a closing quote and a CR record delimiter.
        this.delim = DELIM_CR;
        this.wasQuoting = true;
        this.endRecordAtEof(this.line, false, 1);
        break;
      case S_QUOTE_IN_QUOTED:
        // A quote at the very end closes the value.
        this.wasQuoting = true;
        this.endRecordAtEof(endLine, false);
        break;
      default:
        this.endRecordAtEof(endLine, false);
    }
    this.state = S_UNQUOTED;
    return this.out;
  }

  private scanChunk(buf: Buffer, from: number): void {
    this.sniff(buf, from);
    this.currentChunk = buf;
    this.fwdStart = 0;
    this.fwdEnd = from; // a BOM is passed on with the first record
    this.recStartIdx = from;
    this.scan(buf, from);
    this.finishChunk(buf);
  }

  private begin(buf: Buffer): number {
    this.started = true;
    this.startBuf = Buffer.alloc(0);
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
      // Passed on (csv-parse strips it with `bom: true` and counts it in its byte offsets).
      this.outCursor = 3;
      return 3;
    }
    if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) this.utf16 = true;
    return 0;
  }

  private sniff(buf: Buffer, from: number): void {
    if (this.head.length >= SNIFF_BYTES) return;
    const take = buf.subarray(from, from + SNIFF_BYTES - this.head.length);
    this.head = Buffer.concat([this.head, take]);
  }

  private scan(buf: Buffer, from: number): void {
    const len = buf.length;
    let state = this.state;
    let fieldLen = this.fieldLen;
    let line = this.line;
    for (let i = from; i < len; i++) {
      const c = buf[i] as number;
      // Fast path: runs of ordinary bytes (most of the file) only make the field non-empty.
      if (state === S_UNQUOTED ? c !== QUOTE && c !== COMMA && c !== LF && c !== CR : state === S_QUOTED && c !== QUOTE && c !== LF && c !== CR) {
        let j = i + 1;
        if (state === S_UNQUOTED) {
          while (j < len) {
            const b = buf[j] as number;
            if (b > COMMA || (b !== QUOTE && b !== LF && b !== CR && b !== COMMA)) j += 1;
            else break;
          }
        } else {
          while (j < len) {
            const b = buf[j] as number;
            if (b !== QUOTE && b !== LF && b !== CR) j += 1;
            else break;
          }
        }
        fieldLen += j - i;
        i = j - 1;
        this.lastWasBreak = false;
        continue;
      }
      // One byte may be looked at twice (after a pending decision resolves), hence the inner loop.
      for (;;) {
        if (state === S_UNQUOTED) {
          if (c === QUOTE) {
            // An opening quote only at the start of a field; elsewhere csv-parse rejects the record
            // (INVALID_OPENING_QUOTE) and keeps the quote as a character.
            if (fieldLen === 0) state = S_QUOTED;
            else fieldLen += 1;
          } else if (c === COMMA) {
            this.hasFields = true;
            this.wasQuoting = false;
            fieldLen = 0;
          } else if (c === LF) {
            if (this.delim === DELIM_LF || this.delim === DELIM_UNKNOWN) {
              this.delim = DELIM_LF;
              this.fieldLen = fieldLen;
              this.endRecord(i + 1, line, line + 1);
              fieldLen = 0;
            } else fieldLen += 1;
          } else if (c === CR) {
            if (this.delim === DELIM_CR) {
              this.fieldLen = fieldLen;
              this.endRecord(i + 1, line, line + 1);
              fieldLen = 0;
            } else if (this.delim === DELIM_LF) fieldLen += 1;
            else state = S_CR;
          } else fieldLen += 1;
          break;
        }
        if (state === S_QUOTED) {
          if (c === QUOTE) state = S_QUOTE_IN_QUOTED;
          else fieldLen += 1;
          break;
        }
        if (state === S_QUOTE_IN_QUOTED) {
          if (c === QUOTE) {
            fieldLen += 1; // "" is an escaped quote
            state = S_QUOTED;
            break;
          }
          let closes: boolean;
          if (c === COMMA || c === NUL) closes = true; // csv-parse: `!nextChr` is true for a NUL byte
          else if (c === LF) closes = this.delim === DELIM_LF || this.delim === DELIM_UNKNOWN;
          else if (c === CR) {
            if (this.delim === DELIM_UNKNOWN) {
              state = S_QUOTE_CR_DISCOVER;
              break;
            }
            if (this.delim === DELIM_CRLF) {
              state = S_QUOTE_CR;
              break;
            }
            closes = this.delim === DELIM_CR;
          } else closes = false;
          if (closes) {
            state = S_UNQUOTED;
            this.wasQuoting = true;
          } else {
            // Invalid closing quote: csv-parse rejects the record but stays inside quotes, keeping the
            // quote as a character, so the value goes on (possibly over many lines).
            fieldLen += 1;
            state = S_QUOTED;
          }
          continue; // look at c again in the new state
        }
        if (state === S_QUOTE_CR) {
          if (c === LF) {
            state = S_UNQUOTED;
            this.wasQuoting = true;
            this.fieldLen = fieldLen;
            this.endRecord(i + 1, line, line + 1);
            fieldLen = 0;
            break;
          }
          fieldLen += 2; // invalid closing quote: the quote and the CR stay in the value
          state = S_QUOTED;
          continue;
        }
        if (state === S_QUOTE_CR_DISCOVER) {
          state = S_UNQUOTED;
          this.wasQuoting = true;
          this.fieldLen = fieldLen;
          fieldLen = 0;
          if (c === LF) {
            this.delim = DELIM_CRLF;
            this.endRecord(i + 1, line, line + 1);
            break;
          }
          this.delim = DELIM_CR;
          line += 1; // the CR before c was a line break after all
          this.endRecord(i, line - 1, line);
          continue;
        }
        // S_CR
        if (c === LF) {
          if (this.delim === DELIM_UNKNOWN) this.delim = DELIM_CRLF;
          state = S_UNQUOTED;
          this.fieldLen = fieldLen;
          this.endRecord(i + 1, line, line + 1);
          fieldLen = 0;
          break;
        }
        state = S_UNQUOTED;
        if (this.delim === DELIM_UNKNOWN) {
          this.delim = DELIM_CR;
          line += 1;
          this.fieldLen = fieldLen;
          this.endRecord(i, line - 1, line);
          fieldLen = 0;
        } else fieldLen += 1; // a lone CR in a CRLF file is part of the value
        continue;
      }
      if (c === LF || (c === CR && this.delim === DELIM_CR)) {
        line += 1;
        this.lastWasBreak = true;
      } else this.lastWasBreak = false;
    }
    this.state = state;
    this.fieldLen = fieldLen;
    this.line = line;
  }

  /**
   * The current record ends just before chunk index `end` (after its line break). `nextStartLine` is
   * the line the next record starts on.
   */
  private endRecord(end: number, endLine: number, nextStartLine: number): void {
    const bytes = this.pendingBytes + end - this.recStartIdx;
    const empty = !this.hasFields && this.fieldLen === 0 && !this.wasQuoting;
    if (empty) {
      this.forwardRecord(end, bytes);
    } else if (this.dropping || bytes - this.lineBreakBytes() > this.maxRowBytes) {
      // "Larger than maxRowBytes" is the row without its line break, as the frame's `bytes` reports it.
      this.dropRecord(end, endLine, bytes);
    } else {
      this.onFrame({
        startLine: this.recStartLine,
        endLine,
        outStart: this.outCursor,
        outEnd: this.outCursor + bytes,
        bytes: bytes - this.lineBreakBytes(),
        dropped: false,
        unclosedQuote: false,
      });
      this.forwardRecord(end, bytes);
    }
    this.resetRecord(end, nextStartLine);
  }

  /** The last record, at the end of the input; `breakBytes` is 1 when it ends with a CR line break. */
  private endRecordAtEof(endLine: number, unclosedQuote: boolean, breakBytes = 0): void {
    const bytes = this.pendingBytes;
    const empty = !unclosedQuote && !this.hasFields && this.fieldLen === 0 && !this.wasQuoting;
    if (empty) {
      this.out.push(...this.pending);
      this.pending = [];
    } else if (this.dropping || bytes - breakBytes > this.maxRowBytes) {
      this.onFrame({ startLine: this.recStartLine, endLine, outStart: this.outCursor, outEnd: this.outCursor, bytes: bytes - breakBytes, dropped: true, unclosedQuote });
    } else {
      this.onFrame({
        startLine: this.recStartLine,
        endLine,
        outStart: this.outCursor,
        outEnd: this.outCursor + bytes,
        bytes: bytes - breakBytes,
        dropped: false,
        unclosedQuote,
      });
      this.out.push(...this.pending);
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  private lineBreakBytes(): number {
    return this.delim === DELIM_CRLF ? 2 : 1;
  }

  private forwardRecord(end: number, bytes: number): void {
    if (this.pending.length > 0) {
      // Only the first record of a chunk can have bytes in earlier chunks; nothing of this chunk has
      // been queued yet, so order is kept.
      this.out.push(...this.pending);
      this.pending = [];
    }
    this.fwdEnd = end;
    this.outCursor += bytes;
  }

  private dropRecord(end: number, endLine: number, bytes: number): void {
    this.onFrame({
      startLine: this.recStartLine,
      endLine,
      outStart: this.outCursor,
      outEnd: this.outCursor,
      bytes: bytes - this.lineBreakBytes(),
      dropped: true,
      unclosedQuote: false,
    });
    this.pending = [];
    this.flushRegion();
    // The line break alone goes on, as a blank line (see 2. at the top).
    const lineBreak = LINE_BREAKS[this.delim] as Buffer;
    this.out.push(lineBreak);
    this.outCursor += lineBreak.length;
    this.fwdStart = end;
    this.fwdEnd = end;
  }

  private resetRecord(end: number, nextStartLine: number): void {
    this.recStartIdx = end;
    this.recStartLine = nextStartLine;
    this.pendingBytes = 0;
    this.dropping = false;
    this.hasFields = false;
    this.wasQuoting = false;
    this.fieldLen = 0;
  }

  private flushRegion(): void {
    if (this.fwdEnd > this.fwdStart) this.out.push(this.currentChunk.subarray(this.fwdStart, this.fwdEnd));
  }

  private finishChunk(buf: Buffer): void {
    this.flushRegion();
    const tail = buf.length - this.recStartIdx;
    if (tail > 0) {
      this.pendingBytes += tail;
      if (!this.dropping) {
        // One byte of slack: a CR at the end of the chunk may be the first half of the row's CRLF.
        if (this.pendingBytes > this.maxRowBytes + 1) {
          // Too large to ever be parsed: stop keeping it; the rest of it is counted and skipped.
          this.dropping = true;
          this.pending = [];
        } else this.pending.push(buf.subarray(this.recStartIdx));
      }
    }
    this.recStartIdx = 0;
    this.currentChunk = Buffer.alloc(0);
  }
}
