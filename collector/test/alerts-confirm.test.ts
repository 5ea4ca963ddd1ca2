/**
 * Confirm before firing (`alerts.confirmBelowTarget`): a real collector on a fake clock and a
 * site's agent on the real WebSocket protocol. Once SpeedwatchSiteBelowTarget has been pending
 * for its `for`, the agent is sent `test-now`; the alert fires only if that result is below the
 * target too, goes back to pending if it meets it, and, for an agent that cannot be asked, is
 * judged on its next result. Notifications go to an ntfy stand-in.
 */
import { createLogger } from '@speedwatch/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ChannelConfig } from '../src/alerts/channels/channel-config.js';
import { confirmsBelow } from '../src/alerts/confirmation.js';
import type { AlertsAnswer } from '../src/api/alerts-wire.js';
import type { Running } from './alerts-util.js';
import { FakeClock, HOUR, MIN, api, forMs, startAlerting, tempDb } from './alerts-util.js';
import { fakeNtfy } from './channel-servers.js';
import type { AgentClient } from './ingest-util.js';
import { connectAgent, makeResult } from './ingest-util.js';

interface Setup {
  running: Running;
  clock: FakeClock;
  ntfy: Awaited<ReturnType<typeof fakeNtfy>>;
  token: string;
  events: () => Record<string, unknown>[];
  connect(): Promise<AgentClient>;
  /** Sends results with these downloads (Mbps) started a minute apart before the clock's now; resolves on their ack. */
  send(agent: AgentClient, downloads: readonly number[]): Promise<void>;
  site(): Promise<AlertsAnswer['alerts'][number] | undefined>;
  /** Stops the collector and starts another on the same database and config. */
  restart(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const ntfy = await fakeNtfy(undefined);
  onTestFinished(() => ntfy.close());
  const channels: ChannelConfig[] = [{ type: 'ntfy', name: 'phones', baseUrl: ntfy.baseUrl, topic: 'clinics' }];
  const clock = new FakeClock(Date.parse('2026-11-25T08:00:00+07:00'));
  const lines: string[] = [];
  const dbPath = tempDb();
  const start = (): Promise<Running> =>
    startAlerting(
      dbPath,
      clock,
      { confirmBelowTarget: true, forMs: forMs({ siteBelowTarget: HOUR }), scheduleIntervalMs: 15 * MIN, channels, routes: [{ name: 'clinics', channel: 'phones', lang: 'en', match: {} }] },
      { logger: createLogger({ level: 'info', write: (line) => lines.push(line) }) },
    );
  const running = await start();
  const token = running.addAgent('clinic-1', { name: 'Trạm Y tế Hợp Thành', siteKind: 'clinic', technology: 'mobile', area: 'Lạng Sơn/Cao Lộc' });
  const setup: Setup = {
    running,
    clock,
    ntfy,
    token,
    events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l['event'] === 'string' && String(l['event']).startsWith('confirmation')),
    async connect() {
      const agent = await connectAgent(`${setup.running.collector.url.replace(/^http/, 'ws')}v1/agents`, token);
      onTestFinished(() => agent.ws.terminate());
      await agent.hello();
      return agent;
    },
    async send(agent, downloads) {
      const results = downloads.map((mbps, i) => {
        const startedAt = new Date(clock.now() - (i + 1) * MIN + 30_000).toISOString();
        return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(), technology: 'mobile' }, mbps);
      });
      agent.send({ type: 'results', results });
      expect((await agent.next('ack'))['ids']).toHaveLength(downloads.length);
    },
    async site() {
      return (await api<AlertsAnswer>(setup.running.collector, '/api/v1/alerts')).alerts.find((a) => a.alertname === 'SpeedwatchSiteBelowTarget');
    },
    async restart() {
      await setup.running.close();
      setup.running = await start();
    },
  };
  return setup;
}

/** No `test-now` came before the collector's pong to a ping sent now (one WebSocket keeps its frames in order). */
async function noTestNow(agent: AgentClient): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no pong within 3 s')), 3_000);
    agent.ws.once('pong', () => {
      clearTimeout(timer);
      resolve();
    });
    agent.ws.ping();
  });
  await expect(agent.next('test-now', 1)).rejects.toThrow(/no test-now/);
}

describe('confirm before firing', () => {
  it('asks the agent for a test once the alert has been pending for its for, and fires only on a confirming result below target', async () => {
    const s = await setup();
    const agent = await s.connect();
    await s.send(agent, [20, 30, 40]); // median 30, under mobile's 42 Mbps
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'pending', confirmRequestedAt: null });
    await noTestNow(agent);

    s.clock.ms += HOUR;
    await s.running.evaluate();
    expect(await agent.next('test-now')).toEqual({ type: 'test-now', delayMs: 0 });
    const requestedAt = new Date(s.clock.now()).toISOString();
    expect(await s.site()).toMatchObject({ state: 'pending', startsAt: null, confirmRequestedAt: requestedAt });
    expect(s.ntfy.requests).toEqual([]);
    expect(s.events()).toMatchObject([{ event: 'confirmation-requested', agentId: 'clinic-1', asked: true }]);

    // Waiting for the answer: still pending, and not asked twice.
    s.clock.ms += 2 * MIN;
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'pending', confirmRequestedAt: requestedAt });
    await noTestNow(agent);

    // The confirmation: 25 Mbps, below 42 too. The alert fires, and its route hears it.
    s.clock.ms += MIN;
    await s.send(agent, [25]);
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'firing', startsAt: new Date(s.clock.now()).toISOString(), confirmRequestedAt: null });
    expect(s.ntfy.accepted.map((m) => m.title)).toEqual(['Site below target: Trạm Y tế Hợp Thành (Lạng Sơn/Cao Lộc)']);
  });

  it('keeps the alert pending when the confirmation meets the target, and asks again a for later', async () => {
    const s = await setup();
    const agent = await s.connect();
    await s.send(agent, [20, 30, 40]);
    await s.running.evaluate();
    s.clock.ms += HOUR;
    await s.running.evaluate();
    await agent.next('test-now');

    // 80 Mbps meets 42: the 24 h median (35) is still under it, but the alert does not fire.
    s.clock.ms += MIN;
    await s.send(agent, [80]);
    await s.running.evaluate();
    const restarted = new Date(s.clock.now()).toISOString();
    expect(await s.site()).toMatchObject({ state: 'pending', activeAt: restarted, confirmRequestedAt: null });
    expect(s.events().map((e) => e['event'])).toEqual(['confirmation-requested', 'confirmation-met-target']);
    s.clock.ms += 30 * MIN;
    await s.running.evaluate();
    await noTestNow(agent);
    expect(s.ntfy.requests).toEqual([]);

    // A for after the new pending period began: asked again; this time the result is below.
    s.clock.ms += 30 * MIN;
    await s.running.evaluate();
    expect(await agent.next('test-now')).toEqual({ type: 'test-now', delayMs: 0 });
    s.clock.ms += MIN;
    await s.send(agent, [28]);
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'firing', activeAt: restarted });
    expect(s.ntfy.accepted).toHaveLength(1);
  });

  it('judges a site whose agent cannot be asked on its next result, and keeps the request across a restart', async () => {
    const s = await setup();
    const first = await s.connect();
    await s.send(first, [20, 30, 40]);
    first.ws.close();
    await first.closed;
    await s.running.evaluate();
    s.clock.ms += HOUR;
    await s.running.evaluate();
    const requestedAt = new Date(s.clock.now()).toISOString();
    expect(s.events()).toMatchObject([{ event: 'confirmation-requested', agentId: 'clinic-1', asked: false }]);
    expect(await s.site()).toMatchObject({ state: 'pending', confirmRequestedAt: requestedAt });

    // Hours pass without a result, and the collector restarts: nothing fires on the old median alone.
    s.clock.ms += 3 * HOUR;
    await s.restart();
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'pending', confirmRequestedAt: requestedAt });
    expect(s.ntfy.requests).toEqual([]);

    // The agent comes back with its next scheduled result, below target: that confirms it.
    const again = await s.connect();
    await s.send(again, [22]);
    await s.running.evaluate();
    expect(await s.site()).toMatchObject({ state: 'firing', startsAt: new Date(s.clock.now()).toISOString() });
    await noTestNow(again); // it was never asked: it was not connected when the confirmation was due
    expect(s.ntfy.accepted).toHaveLength(1);
  });
});

describe('confirmsBelow', () => {
  const missed = [
    { metric: 'download' as const, median: 30, tests: 5, target: 42 },
    { metric: 'latency' as const, median: 120, tests: 5, target: 100 },
  ];
  const cases: [string, { downloadMbps: number | null; uploadMbps: number | null; latencyMs: number | null }, boolean | undefined][] = [
    ['a download below its target', { downloadMbps: 41.9, uploadMbps: 10, latencyMs: 20 }, true],
    ['exactly at target meets it', { downloadMbps: 42, uploadMbps: null, latencyMs: 100 }, false],
    ['a latency above its ceiling', { downloadMbps: 90, uploadMbps: null, latencyMs: 100.5 }, true],
    ['only the metrics missed are judged', { downloadMbps: 90, uploadMbps: 0.1, latencyMs: 30 }, false],
    ['a failed test confirms nothing', { downloadMbps: null, uploadMbps: null, latencyMs: null }, undefined],
  ];
  it.each(cases)('%s', (_name, figures, expected) => {
    expect(confirmsBelow(missed, { ts: 0, ...figures })).toBe(expected);
  });
});
