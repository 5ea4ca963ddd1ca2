import { describe, expect, it } from 'vitest';
import { createLogger, SpeedwatchError } from '../src/index.js';

/** The `err` field of the line logging `err`, parsed back from JSON. */
function logged(err: Error): any {
  const lines: string[] = [];
  createLogger({ write: (l) => lines.push(l) }).error({ err }, 'failed');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string).err;
}

/** `err` with `cause`, as `new Error(message, { cause })` would make it. */
function causedBy<E extends Error>(err: E, cause: unknown): E {
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  return err;
}

describe('createLogger', () => {
  it('writes one JSON object a line with level, time, bindings and msg', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), now: () => 1700000000000 }).child({ component: 'endpoint' });
    log.info({ port: 8601 }, 'listening');
    expect(lines).toEqual(['{"level":30,"time":1700000000000,"component":"endpoint","port":8601,"msg":"listening"}\n']);
  });

  it('drops lines below its level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });

  describe('an error among the fields', () => {
    it('is written with its type, message, stack and code', () => {
      const err = new SpeedwatchError('SW_STORE_READ', 'boom');
      expect(logged(err)).toEqual({ type: 'SpeedwatchError', message: 'boom', stack: err.stack, code: 'SW_STORE_READ' });
      expect(logged(err).stack).toMatch(/\n {4}at /);
    });

    it('keeps its other primitive fields, and none that is an object or named like a URL, headers, a body or a secret', () => {
      const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
        code: 'ECONNREFUSED',
        errno: -111,
        syscall: 'connect',
        port: 9,
        retryable: true,
        big: 12n,
        url: 'http://user:pass@hooks.example/secret-path',
        headers: { authorization: 'Bearer x' },
        body: 'the receiver said something private',
        token: 'sw_agent_token',
        readToken: 'sw_read_token',
        apiKey: 'k',
        baseURL: 'https://hooks.example/',
        rawHeaders: ['authorization', 'Bearer x'],
        during: 'connect',
        info: { nested: true },
        onRetry: () => undefined,
      });
      const { stack: _stack, ...rest } = logged(err);
      expect(rest).toEqual({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:9', code: 'ECONNREFUSED', errno: -111, syscall: 'connect', port: 9, retryable: true, big: '12', during: 'connect' });
    });

    it('cuts a long string field to 1000 characters', () => {
      const err = Object.assign(new Error('x'), { detail: 'y'.repeat(5000) });
      expect(logged(err).detail).toBe(`${'y'.repeat(1000)}…`);
    });

    it('keeps its cause chain, each level with its own type, message, stack and code', () => {
      const socket = Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:443'), { code: 'ECONNREFUSED', syscall: 'connect' });
      const fetchFailed = causedBy(new TypeError('fetch failed'), socket);
      const err = new SpeedwatchError('SW_WEBHOOK_NETWORK', 'POST https://hooks.example/…: ECONNREFUSED', { cause: fetchFailed });
      const out = logged(err);
      expect(out).toMatchObject({
        type: 'SpeedwatchError',
        code: 'SW_WEBHOOK_NETWORK',
        cause: {
          type: 'TypeError',
          message: 'fetch failed',
          stack: fetchFailed.stack,
          cause: { type: 'Error', message: 'connect ECONNREFUSED 10.0.0.9:443', code: 'ECONNREFUSED', syscall: 'connect', stack: socket.stack },
        },
      });
      expect(out.cause.cause.cause).toBeUndefined();
    });

    it('writes a cause cycle once, marking where it closes, instead of hanging', () => {
      const a = new SpeedwatchError('SW_STORE_WRITE', 'a');
      const b = causedBy(new SpeedwatchError('SW_STORE_READ', 'b'), a);
      causedBy(a, b);
      expect(logged(a)).toMatchObject({ message: 'a', cause: { message: 'b', cause: '[Circular]' } });
      const self = new Error('self');
      causedBy(self, self);
      expect(logged(self).cause).toBe('[Circular]');
    });

    it('follows at most 8 levels of causes, then marks the rest as truncated', () => {
      let err = new Error('level 100');
      for (let level = 99; level >= 0; level--) err = new Error(`level ${level}`, { cause: err });
      let out = logged(err);
      const messages: string[] = [];
      while (typeof out === 'object') {
        messages.push(out.message);
        out = out.cause;
      }
      expect(messages).toEqual(Array.from({ length: 9 }, (_, i) => `level ${i}`));
      expect(out).toBe('[Truncated]');
    });

    it('keeps a cause that is not an Error: a primitive as it is, an object as its primitive fields', () => {
      expect(logged(new Error('a', { cause: 'disk full' })).cause).toBe('disk full');
      expect(logged(new Error('a', { cause: 28 })).cause).toBe(28);
      expect(logged(new Error('a', { cause: null })).cause).toBeNull();
      const fromThread = { name: 'SqliteError', code: 'SQLITE_BUSY', message: 'database is locked', sql: { text: 'INSERT …' }, authorization: 'Bearer x' };
      expect(logged(new Error('a', { cause: fromThread })).cause).toEqual({ name: 'SqliteError', code: 'SQLITE_BUSY', message: 'database is locked' });
    });

    it("writes an AggregateError's errors as aggregateErrors, ten at most", () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED ::1:80'), { code: 'ECONNREFUSED' });
      const out = logged(new AggregateError([refused, 'not an error'], 'every address failed'));
      expect(out).toMatchObject({ type: 'AggregateError', message: 'every address failed', aggregateErrors: [{ type: 'Error', code: 'ECONNREFUSED', stack: refused.stack }, 'not an error'] });
      const many = logged(new AggregateError(Array.from({ length: 25 }, (_, i) => new Error(`e${i}`)), 'many'));
      expect(many.aggregateErrors).toHaveLength(11);
      expect(many.aggregateErrors[10]).toBe('[15 more]');
    });

    it('serialises at most 32 errors for one line, however wide the tree', () => {
      const leaves = (n: number): Error[] => Array.from({ length: n }, (_, i) => new Error(`leaf ${i}`));
      const tree = new AggregateError(Array.from({ length: 10 }, () => new AggregateError(leaves(10), 'branch')), 'root');
      const json = JSON.stringify(logged(tree));
      expect(json.match(/"type":/g)).toHaveLength(32);
      expect(json).toContain('"[Truncated]"');
    });

    it('skips a field whose getter throws, and still writes the line', () => {
      const err = new Error('odd');
      Object.defineProperty(err, 'weird', { enumerable: true, get: () => { throw new Error('no'); } });
      expect(logged(err)).toMatchObject({ type: 'Error', message: 'odd' });
    });
  });
});
