/**
 * Where the demo's child processes write: every line, as it came, to a log file of its own (one
 * JSON object a line, so pino tools and `jq` read it), and to the terminal only what a person
 * must see: a warning or an error in one short line, and the first few lines that are not JSON
 * (a crash's stack), with where the rest is.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** Lines that are not JSON shown per child before pointing at its log file. */
const MAX_PLAIN_LINES = 5;
/** A warning shown on the terminal is cut to this many characters. */
const MAX_SHOWN_CHARS = 200;

/** What a JSON log line says, in a few words: its message and code or event, when it is a warning or worse. */
export function warningOf(line: string): string | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e['level'] !== 'number' || e['level'] < 40) return undefined;
  const err = typeof e['err'] === 'object' && e['err'] !== null ? (e['err'] as Record<string, unknown>) : undefined;
  const code = [e['code'], err?.['code'], e['event']].find((v): v is string => typeof v === 'string');
  const words = [e['level'] >= 50 ? 'error' : 'warning', typeof e['msg'] === 'string' ? e['msg'] : '', err !== undefined && typeof err['message'] === 'string' ? `: ${err['message']}` : ''].join(' ').trim();
  return code === undefined ? words : `${words} (${code})`;
}

export class ChildOutput {
  readonly path: string;
  readonly #name: string;
  readonly #file: WriteStream;
  readonly #show: (line: string) => void;
  #plainShown = 0;
  #quiet = false;

  /** Logs to `path` (truncated); `show` prints one line on the terminal. */
  constructor(name: string, path: string, show: (line: string) => void) {
    this.#name = name;
    this.path = path;
    this.#file = createWriteStream(path, { flags: 'w' });
    this.#show = show;
  }

  /** Reads `stream` line by line; `onLine` sees each line after it is logged. */
  follow(stream: Readable, onLine: (line: string) => void = () => {}): void {
    let buffered = '';
    stream.setEncoding('utf8').on('data', (data: string) => {
      buffered += data;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#line(line);
        onLine(line);
      }
    });
  }

  /** Says something about the child on the terminal (unless quiet), e.g. that it exited. */
  say(text: string): void {
    if (!this.#quiet) this.#show(`  ! ${this.#name}: ${text}`);
  }

  /** Stops showing anything on the terminal (while the demo stops, the children's goodbyes are expected). */
  quiet(): void {
    this.#quiet = true;
  }

  /** Flushes and closes the log file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#file.end(resolve));
  }

  #line(line: string): void {
    this.#file.write(`${line}\n`);
    if (line.trim() === '') return;
    if (line.startsWith('{')) {
      const warning = warningOf(line);
      if (warning !== undefined) this.say(cut(warning));
      return;
    }
    this.#plainShown++;
    if (this.#plainShown <= MAX_PLAIN_LINES) this.say(cut(line));
    else if (this.#plainShown === MAX_PLAIN_LINES + 1) this.say(`… more in ${this.path}`);
  }
}

function cut(text: string): string {
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS - 1)}…` : text;
}
