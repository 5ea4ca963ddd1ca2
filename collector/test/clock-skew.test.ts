/**
 * An agent whose clock is hours off, over the real protocol: the skew it reports in hello is
 * visible in metrics, and its results are judged by the documented rule (docs/operations.md):
 * a startedAt more than maxFutureSkew (10 min) ahead of the collector's clock is rejected with
 * SW_TIMESTAMP; one in the past is accepted as long as it is within the retention.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, scrapeValue, startTestCollector } from './ingest-util.js';
import { latestStored } from './store-util.js';

const HOUR = 3_600_000;
let t: TestCollector;
beforeEach(async () => {
  t = await startTestCollector();
});
afterEach(async () => {
  await t.close();
});

function stamped(offsetMs: number): ReturnType<typeof makeResult> {
  const startedAt = new Date(Date.now() + offsetMs - 60_000).toISOString();
  return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString() });
}

describe('an agent whose clock is hours off', () => {
  it('three hours fast: the skew shows in metrics and its results are rejected with SW_TIMESTAMP', async () => {
    const client = await connectAgent(t.wsUrl, t.addAgent('school-fast'));
    try {
      client.send({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date(Date.now() + 3 * HOUR).toISOString() });
      await client.next('welcome');
      const skew = await scrapeValue(t.collector.url, 'speedwatch_agent_clock_skew_seconds{agent_id="school-fast"}');
      expect(Math.abs(skew - 3 * 3600)).toBeLessThan(5);
      const result = stamped(3 * HOUR);
      client.send({ type: 'results', results: [result] });
      expect(await client.next('reject')).toMatchObject({ id: result.id, code: 'SW_TIMESTAMP' });
      expect(latestStored(t.store, 'school-fast')).toBeUndefined();
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="timestamp"}')).toBe(1);
    } finally {
      client.ws.terminate();
    }
  });

  it('three hours slow: the skew shows as negative and its results are accepted, dated as the agent dated them', async () => {
    const client = await connectAgent(t.wsUrl, t.addAgent('school-slow'));
    try {
      client.send({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date(Date.now() - 3 * HOUR).toISOString() });
      await client.next('welcome');
      const skew = await scrapeValue(t.collector.url, 'speedwatch_agent_clock_skew_seconds{agent_id="school-slow"}');
      expect(Math.abs(skew + 3 * 3600)).toBeLessThan(5);
      const result = stamped(-3 * HOUR);
      client.send({ type: 'results', results: [result] });
      expect((await client.next('ack'))['ids']).toEqual([result.id]);
      expect(latestStored(t.store, 'school-slow')?.ts).toBe(Date.parse(result.startedAt));
    } finally {
      client.ws.terminate();
    }
  });
});
