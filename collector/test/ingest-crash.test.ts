/**
 * The collector as a real child process, killed with SIGKILL in the middle of ingest and
 * restarted on the same SQLite file: every result it acked is there exactly once, and the
 * client's replay of what was not acked completes the set.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentClient } from './ingest-util.js';
import { connectAgent, makeResult } from './ingest-util.js';

const BIN = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function serve(db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('collector did not start within 10 s')), 10_000);
    child.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(d.toString().split('\n')[0] as string) as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)));
  });
}

describe('collector killed during ingest', () => {
  it('keeps every acked result exactly once, and replay completes the set', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'sw-crash-')), 'speedwatch.db');
    const token = execFileSync(process.execPath, [BIN, 'agents', 'add', '--db', db, '--id', 'school-1', '--name', 'School 1', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
    expect(token).toMatch(/^swa_[A-Za-z0-9_-]{43}$/);

    const sent = new Map<string, ReturnType<typeof makeResult>>();
    const acked = new Set<string>();
    const track = (client: AgentClient): void => {
      client.ws.on('message', (data) => {
        const m = JSON.parse(data.toString()) as { type: string; ids?: string[] };
        if (m.type === 'ack') for (const id of m.ids ?? []) acked.add(id);
      });
    };

    // First life: batches go out back to back, without waiting for acks, until the kill. At most
    // 100 messages, under the default limit of 120 a minute, so none is refused for rate.
    const first = await serve(db);
    const client = await connectAgent(`${first.url.replace(/^http/, 'ws')}v1/agents`, token);
    track(client);
    await client.hello();
    let sending = true;
    let messages = 0;
    const pump = (async () => {
      while (sending && client.ws.readyState === client.ws.OPEN && messages++ < 100) {
        const batch = Array.from({ length: 20 }, () => makeResult());
        for (const r of batch) sent.set(r.id, r);
        client.send({ type: 'results', results: batch });
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Kill once some batches are acked and others are still in flight.
    const deadline = Date.now() + 10_000;
    while (acked.size < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    sending = false;
    await pump;
    await client.closed;
    const ackedBeforeCrash = new Set(acked);
    expect(ackedBeforeCrash.size).toBeGreaterThan(0);
    expect(sent.size).toBeGreaterThan(ackedBeforeCrash.size); // some were in flight

    // Second life: the client replays everything not acked.
    const second = await serve(db);
    const again = await connectAgent(`${second.url.replace(/^http/, 'ws')}v1/agents`, token);
    track(again);
    await again.hello();
    const unacked = [...sent.values()].filter((r) => !acked.has(r.id));
    for (let i = 0; i < unacked.length; i += 200) {
      again.send({ type: 'results', results: unacked.slice(i, i + 200) });
      await again.next('ack', 20_000);
    }
    expect(acked.size).toBe(sent.size);

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${second.url}api/v1/results?agent=school-1&limit=10000${cursor === null ? '' : `&cursor=${cursor}`}`)).json()) as { results: { id: string }[]; nextCursor: string | null };
      ids.push(...page.results.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(ids.length).toBe(new Set(ids).size); // exactly once
    expect(new Set(ids)).toEqual(new Set(sent.keys()));
    for (const id of ackedBeforeCrash) expect(ids).toContain(id);
  }, 60_000);
});
