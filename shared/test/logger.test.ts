import { describe, expect, it } from 'vitest';
import { createLogger, SpeedwatchError } from '../src/index.js';

describe('createLogger', () => {
  it('writes one JSON object a line with level, time, bindings and msg', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), now: () => 1700000000000 }).child({ component: 'endpoint' });
    log.info({ port: 8601 }, 'listening');
    expect(lines).toEqual(['{"level":30,"time":1700000000000,"component":"endpoint","port":8601,"msg":"listening"}\n']);
  });

  it('drops lines below its level and serialises errors with their code', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('hidden');
    log.error({ err: new SpeedwatchError('SW_STORE_READ', 'boom') }, 'failed');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string).err).toEqual({ type: 'SpeedwatchError', message: 'boom', code: 'SW_STORE_READ' });
  });
});
