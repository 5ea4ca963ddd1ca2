import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, open, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { tableCrc32 } from '../src/outbox/crc32.js';
import { OutboxError, OutboxOptionsError } from '../src/outbox/outbox-error.js';
import { DEAD_LETTER_FILE, LOG_FILE, Outbox, UNREADABLE_CODE } from '../src/outbox/outbox.js';
import type { OutboxOptions } from '../src/outbox/outbox.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../src/outbox/record-format.js';
import { makeResult, resultId } from './util.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sw-outbox-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** Opens an outbox that the test's cleanup closes, with its log lines captured. */
async function openOutbox(dir: string, options: Partial<OutboxOptions> = {}): Promise<{ outbox: Outbox; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line) as LogLine) });
  const outbox = await Outbox.open({ dir, logger, ...options });
  cleanups.push(() => outbox.close());
  return { outbox, logs };
}

/** Appends results `from`..`to` (inclusive) one after another, then closes the outbox. */
async function fill(dir: string, from: number, to: number, options: Partial<OutboxOptions> = {}): Promise<void> {
  const { outbox } = await openOutbox(dir, options);
  for (let n = from; n <= to; n++) await outbox.append(makeResult(n));
  await outbox.close();
}

function ids(results: MeasurementResult[]): string[] {
  return results.map((r) => r.id);
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => resultId(from + i));
}

async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

async function rejection(promise: Promise<unknown>): Promise<OutboxError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(OutboxError);
    return err as OutboxError;
  }
  throw new Error('expected a rejection');
}

describe('Outbox', () => {
  it('uses a fixture result that is valid and about 1.5 KB', () => {
    const json = JSON.stringify(makeResult(1));
    expect(parseMeasurementResult(JSON.parse(json))).toEqual(makeResult(1));
    expect(json.length).toBeGreaterThan(1300);
    expect(json.length).toBeLessThan(1800);
  });

  describe('#append and #pending', () => {
    it('keeps an appended result across a reopen', async () => {
      const dir = await tempDir();
      await fill(dir, 1, 1);
      const { outbox } = await openOutbox(dir);
      expect(outbox.pending()).toEqual([makeResult(1)]);
      expect(outbox.stats).toMatchObject({ pending: 1, recoveredTornBytes: 0, dropped: 0, deadLettered: 0 });
    });

    it('returns pending results oldest first, up to the limit', async () => {
      const dir = await tempDir();
      await fill(dir, 1, 5);
      const { outbox } = await openOutbox(dir);
      expect(ids(outbox.pending())).toEqual(range(1, 5));
      expect(ids(outbox.pending(2))).toEqual(range(1, 2));
      expect(outbox.pending(0)).toEqual([]);
    });

    it('returns copies, so a caller changing one does not change the queue', async () => {
      const { outbox } = await openOutbox(await tempDir());
      await outbox.append(makeResult(1));
      const [first] = outbox.pending();
      if (first !== undefined) first.status = 'failed';
      expect(outbox.pending()[0]?.status).toBe('ok');
    });

    it('stores a result appended twice only once', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      await Promise.all([outbox.append(makeResult(1)), outbox.append(makeResult(1))]);
      await outbox.append(makeResult(1));
      const { fileBytes, liveBytes } = outbox.stats;
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(ids(reopened.outbox.pending())).toEqual(range(1, 1));
      expect(reopened.outbox.stats).toMatchObject({ fileBytes, liveBytes });
    });

    it('lands 50 concurrent appends, all durable, in call order', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      await Promise.all(Array.from({ length: 50 }, (_, i) => outbox.append(makeResult(i + 1))));
      expect(ids(outbox.pending())).toEqual(range(1, 50));
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(ids(reopened.outbox.pending())).toEqual(range(1, 50));
    });

    it('keeps the file size equal to the header plus every frame written', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      await outbox.append(makeResult(1));
      const frameBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'r', r: makeResult(1) }));
      expect(outbox.stats.liveBytes).toBe(frameBytes);
      expect(await fileSize(path.join(dir, LOG_FILE))).toBe(outbox.stats.fileBytes);
    });
  });

  describe('#ack', () => {
    it('removes acked results, and they stay removed after a reopen', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      for (let n = 1; n <= 4; n++) await outbox.append(makeResult(n));
      await outbox.ack([resultId(1), resultId(3)]);
      expect(ids(outbox.pending())).toEqual([resultId(2), resultId(4)]);
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(ids(reopened.outbox.pending())).toEqual([resultId(2), resultId(4)]);
    });

    it('ignores unknown ids without writing anything', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      await outbox.append(makeResult(1));
      const before = await fileSize(path.join(dir, LOG_FILE));
      await outbox.ack(['no-such-result', resultId(2)]);
      expect(await fileSize(path.join(dir, LOG_FILE))).toBe(before);
      expect(ids(outbox.pending())).toEqual(range(1, 1));
    });

    it('makes a result acked and appended again pending again', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      await outbox.append(makeResult(1));
      await outbox.ack([resultId(1)]);
      await outbox.append(makeResult(1));
      await outbox.close();
      expect(ids((await openOutbox(dir)).outbox.pending())).toEqual(range(1, 1));
    });
  });

  describe('recovery on open', () => {
    // Each case damages a log holding three results. `tornBytes` is what open must cut off.
    const lastFrameBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'r', r: makeResult(3) }));
    it.each<{ name: string; damage: (file: string) => Promise<void>; kept: number; tornBytes: number }>([
      {
        name: 'a last record cut short by 5 bytes (a power cut during the write)',
        damage: async (file) => truncate(file, (await fileSize(file)) - 5),
        kept: 2,
        tornBytes: lastFrameBytes - 5,
      },
      {
        name: 'a last record of which only 3 header bytes made it',
        damage: async (file) => truncate(file, (await fileSize(file)) - lastFrameBytes + 3),
        kept: 2,
        tornBytes: 3,
      },
      {
        name: 'random garbage after the last record',
        damage: (file) => appendFile(file, Buffer.from('9f3c0a7e11d2b48855e0c6', 'hex')),
        kept: 3,
        tornBytes: 11,
      },
      {
        name: 'a flipped byte inside the last record (CRC mismatch)',
        damage: async (file) => flipByte(file, (await fileSize(file)) - 10),
        kept: 2,
        tornBytes: lastFrameBytes,
      },
      {
        // ext4 and others can leave a zero-filled extension after a power cut: length 0, CRC 0.
        name: 'a zero-filled tail',
        damage: (file) => appendFile(file, Buffer.alloc(4096)),
        kept: 3,
        tornBytes: 4096,
      },
    ])('recovers from $name', async ({ damage, kept, tornBytes }) => {
      const dir = await tempDir();
      const file = path.join(dir, LOG_FILE);
      await fill(dir, 1, 3);
      await damage(file);

      const { outbox, logs } = await openOutbox(dir);
      expect(ids(outbox.pending())).toEqual(range(1, kept));
      expect(outbox.stats.recoveredTornBytes).toBe(tornBytes);
      expect(logs).toContainEqual(expect.objectContaining({ level: 40, tornBytes }));
      expect(await fileSize(file)).toBe(outbox.stats.fileBytes);

      // The file was cut at the last good record, so a new append is readable after it.
      await outbox.append(makeResult(9));
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(ids(reopened.outbox.pending())).toEqual([...range(1, kept), resultId(9)]);
      expect(reopened.outbox.stats.recoveredTornBytes).toBe(0);
    });

    it('opens an empty file as an empty outbox', async () => {
      const dir = await tempDir();
      await writeFile(path.join(dir, LOG_FILE), '');
      const { outbox } = await openOutbox(dir);
      expect(outbox.pending()).toEqual([]);
      expect(outbox.stats.recoveredTornBytes).toBe(0);
      await outbox.append(makeResult(1));
      await outbox.close();
      expect(ids((await openOutbox(dir)).outbox.pending())).toEqual(range(1, 1));
    });

    it('opens a file of only garbage as an empty outbox, cutting all of it off', async () => {
      const dir = await tempDir();
      const garbage = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 151 + 7) % 256));
      await writeFile(path.join(dir, LOG_FILE), garbage);
      const { outbox, logs } = await openOutbox(dir);
      expect(outbox.pending()).toEqual([]);
      expect(outbox.stats.recoveredTornBytes).toBe(3000);
      expect(logs).toContainEqual(expect.objectContaining({ level: 40, tornBytes: 3000, offset: 0 }));
      await outbox.append(makeResult(1));
      await outbox.close();
      expect(ids((await openOutbox(dir)).outbox.pending())).toEqual(range(1, 1));
    });

    it('keeps the records before a corrupt one in the middle and saves the rest aside', async () => {
      const dir = await tempDir();
      const file = path.join(dir, LOG_FILE);
      await fill(dir, 1, 60);
      const before = await fileSize(file);
      const headerBytes = before - 60 * lastFrameBytes; // every fixture result encodes to the same length
      await flipByte(file, headerBytes + 10 * lastFrameBytes + 100); // inside result 11

      const { outbox, logs } = await openOutbox(dir, { now: () => Date.UTC(2025, 2, 1) });
      expect(ids(outbox.pending())).toEqual(range(1, 10));
      const tornBytes = 50 * lastFrameBytes;
      expect(outbox.stats.recoveredTornBytes).toBe(tornBytes);
      expect(logs).toContainEqual(expect.objectContaining({ level: 50, tornBytes, reason: 'a CRC mismatch' }));
      const saved = path.join(dir, `${LOG_FILE}.corrupt-2025-03-01T00-00-00-000Z`);
      expect(await fileSize(saved)).toBe(tornBytes);
    });

    it('refuses a log of a newer format version and leaves it untouched', async () => {
      const dir = await tempDir();
      const file = path.join(dir, LOG_FILE);
      const newer = Buffer.concat([encodeFrame({ t: 'h', v: 2, dropped: 0, deadLettered: 0 }), encodeFrame({ t: 'r', r: makeResult(1) })]);
      await writeFile(file, newer);
      const err = await rejection(Outbox.open({ dir, logger: createLogger({ level: 'silent' }) }));
      expect(err.code).toBe('SW_OUTBOX_VERSION');
      expect(await readFile(file)).toEqual(newer);
    });

    it('moves a record whose result is no longer valid to the dead-letter file, once', async () => {
      const dir = await tempDir();
      await fill(dir, 1, 2);
      const invalid = { ...makeResult(3), status: 'great' };
      await appendFile(path.join(dir, LOG_FILE), encodeFrame({ t: 'r', r: invalid }));

      const { outbox } = await openOutbox(dir);
      expect(ids(outbox.pending())).toEqual(range(1, 2));
      expect(outbox.stats.deadLettered).toBe(1);
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(reopened.outbox.stats.deadLettered).toBe(1);
      const lines = await deadLetterLines(dir);
      expect(lines).toEqual([expect.objectContaining({ id: resultId(3), code: UNREADABLE_CODE, result: invalid })]);
      expect(lines[0]?.['message']).toMatch(/status/);
    });

    it('removes a temporary file left by a compaction that crashed', async () => {
      const dir = await tempDir();
      await fill(dir, 1, 2);
      await writeFile(path.join(dir, `${LOG_FILE}.tmp`), 'half a compaction');
      const { outbox } = await openOutbox(dir);
      expect(ids(outbox.pending())).toEqual(range(1, 2));
      expect(await readdir(dir)).toEqual([LOG_FILE]);
    });
  });

  describe('power cut (SIGKILL of a writing process)', () => {
    const outboxJs = new URL('../dist/src/outbox/outbox.js', import.meta.url);
    // Appends results in a loop and prints each id once its append has resolved. Output to a
    // pipe is synchronous on Linux, so at most one durable result can be unprinted at the kill.
    const child = `
      import { readFileSync } from 'node:fs';
      import { Outbox } from ${JSON.stringify(outboxJs.href)};
      const [dir, start, templateFile] = process.argv.slice(1);
      const template = readFileSync(templateFile, 'utf8');
      const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      const outbox = await Outbox.open({ dir, logger, maxBytes: 2 ** 30 });
      for (let n = Number(start); ; n++) {
        const id = 'result-' + String(n).padStart(6, '0');
        await outbox.append({ ...JSON.parse(template), id });
        process.stdout.write(id + '\\n');
      }`;

    beforeAll(() => {
      if (!existsSync(outboxJs)) throw new Error(`${outboxJs.pathname} is missing: run \`npx tsc -b\` first`);
    });

    /**
     * Runs the child from result `start` until it has printed `count` ids, SIGKILLs it
     * `killDelayMs` later, and returns every id it printed.
     */
    async function appendUntilKilled(dir: string, templateFile: string, start: number, count: number, killDelayMs: number): Promise<string[]> {
      const proc = spawn(process.execPath, ['--input-type=module', '-e', child, dir, String(start), templateFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const printed: string[] = [];
      let stderr = '';
      let partial = '';
      let killTimer: NodeJS.Timeout | undefined;
      cleanups.push(async () => {
        clearTimeout(killTimer);
        proc.kill('SIGKILL');
      });
      proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      proc.stdout.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        printed.push(...lines);
        if (printed.length >= count && killTimer === undefined) killTimer = setTimeout(() => proc.kill('SIGKILL'), killDelayMs);
      });
      const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child printed ${printed.length} of ${count} ids in 20 s; stderr: ${stderr}`)), 20_000);
        proc.on('close', (_code, sig) => {
          clearTimeout(timer);
          resolve(sig);
        });
      });
      expect(signal, stderr).toBe('SIGKILL');
      return printed;
    }

    /** Kills the appending child once per entry of `rounds`, reopening the log after each kill. */
    async function killRounds(template: MeasurementResult, rounds: { count: number; killDelayMs: number }[]): Promise<number> {
      const dir = await tempDir();
      const templateFile = path.join(dir, 'template.json');
      await writeFile(templateFile, JSON.stringify(template));
      const durable: string[] = [];
      let next = 1;
      for (const { count, killDelayMs } of rounds) {
        const printed = await appendUntilKilled(path.join(dir, 'outbox'), templateFile, next, count, killDelayMs);
        durable.push(...printed);
        const { outbox } = await openOutbox(path.join(dir, 'outbox'), { maxBytes: 2 ** 30 });
        const pending = ids(outbox.pending());
        // Every printed id is there, in order; beyond them at most the one append in flight.
        const inFlight = resultId(next + printed.length);
        expect(pending.filter((id) => id !== inFlight)).toEqual(durable);
        if (pending.at(-1) === inFlight) durable.push(inFlight);
        await outbox.close();
        next += printed.length + 1;
      }
      return durable.length;
    }

    it('keeps every result whose append resolved, over three kills', async () => {
      const durable = await killRounds(makeResult(0), [
        { count: 7, killDelayMs: 0 },
        { count: 23, killDelayMs: 1 },
        { count: 41, killDelayMs: 3 },
      ]);
      expect(durable).toBeGreaterThanOrEqual(7 + 23 + 41);
    });

    it('keeps every result whose append resolved when kills land during large writes', async () => {
      // A result with 10 000 samples per direction is about 200 KB; Linux stops a write to the
      // page cache between pages when SIGKILL arrives, so some of these kills leave a torn frame
      // (the truncation tests above cover that path every time).
      const samplesMbps = Array.from({ length: 10_000 }, (_, i) => 93.25 + i / 1e6);
      const base = makeResult(0);
      const big = { ...base, download: { ...base.download!, sampleIntervalMs: 10, samplesMbps }, upload: { ...base.upload!, sampleIntervalMs: 10, samplesMbps } };
      const durable = await killRounds(big, [0, 2, 4, 6, 8, 10].map((killDelayMs, i) => ({ count: 1 + (i % 3), killDelayMs })));
      expect(durable).toBeGreaterThanOrEqual(6 + 2 * 3);
    });

    it('cuts a failed write back off the log and keeps working (file size limit, like a full disk)', async () => {
      const dir = await tempDir();
      // Under `ulimit -f` the write that crosses the limit is cut short and the next one fails
      // with EFBIG (Node ignores SIGXFSZ): the same partial write a full disk gives.
      const script = `
        import { stat } from 'node:fs/promises';
        import { Outbox } from ${JSON.stringify(outboxJs.href)};
        const [dir, template] = process.argv.slice(1);
        const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
        const outbox = await Outbox.open({ dir, logger });
        const appended = [];
        let code;
        for (let n = 1; n <= 100 && code === undefined; n++) {
          const id = 'result-' + String(n).padStart(6, '0');
          try { await outbox.append({ ...JSON.parse(template), id }); appended.push(id); } catch (err) { code = err.code; }
        }
        const sizeAfterFailure = (await stat(dir + '/outbox.log')).size;
        const fileBytes = outbox.stats.fileBytes;
        await outbox.ack([appended[0]]);
        await outbox.close();
        process.stdout.write(JSON.stringify({ appended, code, sizeAfterFailure, fileBytes }));`;
      const proc = spawn('sh', ['-c', 'ulimit -f 16 && exec "$0" --input-type=module -e "$1" "$2" "$3"', process.execPath, script, dir, JSON.stringify(makeResult(0))], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanups.push(async () => void proc.kill('SIGKILL'));
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exitCode = await new Promise<number | null>((resolve) => proc.on('close', resolve));
      expect(exitCode, stderr).toBe(0);
      const report = JSON.parse(stdout) as { appended: string[]; code: string; sizeAfterFailure: number; fileBytes: number };
      expect(report.code).toBe('SW_OUTBOX_WRITE');
      expect(report.appended.length).toBeGreaterThan(2);
      expect(report.sizeAfterFailure).toBe(report.fileBytes);

      const { outbox } = await openOutbox(dir);
      expect(outbox.stats.recoveredTornBytes).toBe(0);
      expect(ids(outbox.pending())).toEqual(report.appended.slice(1));
    });
  });

  describe('maxBytes', () => {
    const frameBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'r', r: makeResult(1) }));

    it('drops the oldest results when full, and the count survives a reopen', async () => {
      const dir = await tempDir();
      const { outbox, logs } = await openOutbox(dir, { maxBytes: 3 * frameBytes });
      for (let n = 1; n <= 5; n++) await outbox.append(makeResult(n));
      expect(ids(outbox.pending())).toEqual(range(3, 5));
      expect(outbox.stats).toMatchObject({ dropped: 2, liveBytes: 3 * frameBytes });
      expect(logs.filter((l) => l.level === 40 && l['dropped'] === 1)).toHaveLength(2);
      await outbox.close();

      const reopened = await openOutbox(dir, { maxBytes: 3 * frameBytes });
      expect(ids(reopened.outbox.pending())).toEqual(range(3, 5));
      expect(reopened.outbox.stats.dropped).toBe(2);
    });

    it('drops on open when maxBytes was lowered', async () => {
      const dir = await tempDir();
      await fill(dir, 1, 5);
      const { outbox } = await openOutbox(dir, { maxBytes: 2 * frameBytes });
      expect(ids(outbox.pending())).toEqual(range(4, 5));
      expect(outbox.stats.dropped).toBe(3);
      await outbox.close();
      expect((await openOutbox(dir)).outbox.stats).toMatchObject({ dropped: 3, pending: 2 });
    });

    it('refuses a result larger than maxBytes and drops nothing for it', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir, { maxBytes: frameBytes + 10 });
      await outbox.append(makeResult(1));
      const big = { ...makeResult(2), latency: { ...makeResult(2).latency!, samplesMs: Array.from({ length: 500 }, () => 12.5) } };
      expect((await rejection(outbox.append(big))).code).toBe('SW_OUTBOX_TOO_LARGE');
      expect(ids(outbox.pending())).toEqual(range(1, 1));
      expect(outbox.stats.dropped).toBe(0);
    });
  });

  describe('#deadLetter', () => {
    it('writes the result with its reason and time to dead-letter.jsonl and removes it from the queue', async () => {
      const dir = await tempDir();
      const now = Date.UTC(2025, 2, 1, 8, 30);
      const { outbox } = await openOutbox(dir, { now: () => now });
      for (let n = 1; n <= 3; n++) await outbox.append(makeResult(n));
      await outbox.deadLetter(resultId(2), 'SW_TIMESTAMP', 'startedAt is 3 days ahead of the collector');
      await outbox.deadLetter('no-such-result', 'SW_TIMESTAMP', 'ignored');
      expect(ids(outbox.pending())).toEqual([resultId(1), resultId(3)]);
      expect(outbox.stats.deadLettered).toBe(1);
      expect(await deadLetterLines(dir)).toEqual([
        { id: resultId(2), code: 'SW_TIMESTAMP', message: 'startedAt is 3 days ahead of the collector', time: '2025-03-01T08:30:00.000Z', result: makeResult(2) },
      ]);
      await outbox.close();
      const reopened = await openOutbox(dir);
      expect(ids(reopened.outbox.pending())).toEqual([resultId(1), resultId(3)]);
      expect(reopened.outbox.stats.deadLettered).toBe(1);
    });

    it('starts a new line after a line cut short by a power cut', async () => {
      const dir = await tempDir();
      await writeFile(path.join(dir, DEAD_LETTER_FILE), '{"id":"result-0000');
      const { outbox } = await openOutbox(dir);
      await outbox.append(makeResult(1));
      await outbox.deadLetter(resultId(1), 'SW_TIMESTAMP', 'too old');
      const text = await readFile(path.join(dir, DEAD_LETTER_FILE), 'utf8');
      expect(JSON.parse(text.split('\n')[1] ?? '')).toMatchObject({ id: resultId(1) });
    });
  });

  describe('compaction', () => {
    it('rewrites the log to exactly the live set, smaller, and keeps it across a reopen', async () => {
      const dir = await tempDir();
      const file = path.join(dir, LOG_FILE);
      const frameBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'r', r: makeResult(1) }));
      // Small enough that only the ack below makes the log worth compacting: until then less
      // than half of it is dead.
      const options = { compactMinBytes: 8 * 1024, maxBytes: 5 * frameBytes };
      const { outbox, logs } = await openOutbox(dir, options);
      for (let n = 1; n <= 7; n++) await outbox.append(makeResult(n)); // drops 1 and 2
      await outbox.deadLetter(resultId(7), 'SW_TIMESTAMP', 'too old');
      expect(logs.filter((l) => l.msg === 'compacted the outbox log')).toEqual([]);
      const before = await fileSize(file);
      const ackBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'a', ids: range(3, 5) }));
      await outbox.ack(range(3, 5));
      await outbox.close(); // waits for the compaction the ack queued

      expect(logs.filter((l) => l.msg === 'compacted the outbox log')).toEqual([expect.objectContaining({ beforeBytes: before + ackBytes })]);
      const reopened = await openOutbox(dir, options);
      expect(ids(reopened.outbox.pending())).toEqual(range(6, 6));
      expect(reopened.outbox.stats).toMatchObject({ dropped: 2, deadLettered: 1 });
      // A header carrying the counters, then the one live frame: nothing else.
      const headerBytes = FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ t: 'h', v: 1, dropped: 2, deadLettered: 1 }));
      expect(await fileSize(file)).toBe(headerBytes + frameBytes);
      expect(reopened.outbox.stats.fileBytes).toBe(headerBytes + frameBytes);
    });

    it('leaves the log alone while it is small', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      for (let n = 1; n <= 4; n++) await outbox.append(makeResult(n));
      await outbox.ack(range(1, 4));
      const { fileBytes } = outbox.stats;
      await outbox.close();
      expect(await fileSize(path.join(dir, LOG_FILE))).toBe(fileBytes);
    });

    it('keeps appending to the new file after compacting', async () => {
      const dir = await tempDir();
      const { outbox } = await openOutbox(dir);
      for (let n = 1; n <= 3; n++) await outbox.append(makeResult(n));
      await outbox.ack([resultId(1)]);
      await outbox.compact();
      await outbox.append(makeResult(4));
      await outbox.close();
      expect(ids((await openOutbox(dir)).outbox.pending())).toEqual(range(2, 4));
      expect(await readdir(dir)).toEqual([LOG_FILE]);
    });
  });

  describe('options and lifecycle', () => {
    it.each<[string, Record<string, unknown>, string[]]>([
      ['a maxBytes of 0', { maxBytes: 0 }, ['maxBytes']],
      ['a fractional maxBytes', { maxBytes: 1.5 }, ['maxBytes']],
      ['a negative compactMinBytes', { compactMinBytes: -1 }, ['compactMinBytes']],
      [
        'every option wrong at once',
        { dir: '', maxBytes: '64MiB', compactMinBytes: Number.NaN, fsyncDir: 'yes', now: 0, logger: console.log, colour: 'red' },
        ['colour', 'dir', 'maxBytes', 'compactMinBytes', 'logger', 'fsyncDir', 'now'],
      ],
    ])('refuses %s, listing every problem with its key', async (_case, options, paths) => {
      const err = await rejection(Outbox.open({ dir: await tempDir(), ...options }));
      expect(err).toBeInstanceOf(OutboxOptionsError);
      expect(err.code).toBe('SW_OUTBOX_OPTIONS');
      expect((err as OutboxOptionsError).problems.map((p) => p.path)).toEqual(paths);
    });

    it.each([-1, 1.5, Number.NaN, '10'])('refuses pending(%j) with SW_OUTBOX_OPTIONS naming limit', async (limit) => {
      const { outbox } = await openOutbox(await tempDir());
      let thrown: unknown;
      try {
        outbox.pending(limit as number);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(OutboxOptionsError);
      expect(thrown).toMatchObject({ code: 'SW_OUTBOX_OPTIONS', problems: [{ path: 'limit' }] });
    });

    it('refuses operations after close, and close twice is fine', async () => {
      const { outbox } = await openOutbox(await tempDir());
      await outbox.close();
      await outbox.close();
      expect((await rejection(outbox.append(makeResult(1)))).code).toBe('SW_OUTBOX_CLOSED');
      expect((await rejection(outbox.ack([resultId(1)]))).code).toBe('SW_OUTBOX_CLOSED');
    });

    it('fails to open where the directory cannot be made, with SW_OUTBOX_OPEN', async () => {
      const dir = await tempDir();
      await writeFile(path.join(dir, 'file'), '');
      const err = await rejection(Outbox.open({ dir: path.join(dir, 'file', 'outbox'), logger: createLogger({ level: 'silent' }) }));
      expect(err.code).toBe('SW_OUTBOX_OPEN');
    });
  });

  describe('crc32', () => {
    it.each(['', '123456789', 'x'.repeat(5000)])('gives the same value table-driven as zlib for %#', (text) => {
      const data = Buffer.from(text);
      expect(tableCrc32(data)).toBe(zlib.crc32(data));
    });

    it('matches the standard check value', () => {
      expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    });
  });
});

async function flipByte(file: string, at: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

async function deadLetterLines(dir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path.join(dir, DEAD_LETTER_FILE), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
