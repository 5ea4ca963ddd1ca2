/**
 * Load generator for the collector ingest benchmark, run as its own process so that the
 * collector's CPU is its own. Usage: node collector-load.js PLAN.json
 *
 * Connects one WebSocket per token, says hello, and once every agent is welcomed prints
 * {"event":"ready"} and waits for a line on stdin. Then each agent keeps `inFlight` batches of
 * `batch` results unacked until `total` results are sent, and once all are acked it prints
 * {"event":"done", …} with the wall time from the go line to the last ack, and exits.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { percentile } from '@speedwatch/shared';
import { ResultText, resultTemplate } from './collector-results.js';

/** What the benchmark asks of the load generator. */
export interface LoadPlan {
  wsUrl: string;
  tokens: string[];
  /** Results per `results` message. */
  batch: number;
  /** Batches each agent keeps sent but unacked. */
  inFlight: number;
  /** Results to send in all (a multiple of `batch`). */
  total: number;
}

/** The load generator's last stdout line. */
export interface LoadOutcome {
  event: 'done';
  acked: number;
  /** Wall time from the go line to the last ack. */
  elapsedMs: number;
  /** User + system CPU of the load generator over that time. */
  cpuMs: number;
  /** Time from sending a batch to its ack, per batch. */
  ackP50Ms: number;
  ackP99Ms: number;
  /** reject and error messages received (0 in a valid run). */
  refusals: number;
  firstRefusal?: string;
}

interface Agent {
  ws: WebSocket;
  /** Send times of the batches in flight, oldest first (acks come in order on one connection). */
  sentAt: number[];
}

const HOUR_MS = 3_600_000;

/** A start time a live agent would send: in the current hour, at least 30 s ago when the hour allows. */
function liveStartMs(now: number): number {
  const low = Math.max(Math.floor(now / HOUR_MS) * HOUR_MS, now - HOUR_MS);
  const high = now - 30_000;
  return high <= low ? high : low + Math.floor(Math.random() * (high - low));
}

function say(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(planPath: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as LoadPlan;
  const text = new ResultText(resultTemplate('agent-default'));
  const batchText = (): string => {
    const now = Date.now();
    const results: string[] = [];
    for (let i = 0; i < plan.batch; i++) {
      results.push(text.make({ id: randomUUID(), startedMs: liveStartMs(now), downloadMbps: 104.3, uploadMbps: 43.8, latencyMs: 12.9 }));
    }
    return `{"type":"results","results":[${results.join(',')}]}`;
  };

  let sent = 0;
  let acked = 0;
  let refusals = 0;
  let firstRefusal: string | undefined;
  const ackMs: number[] = [];
  let started = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const sendBatch = (agent: Agent): void => {
    if (sent >= plan.total) return;
    sent += plan.batch;
    agent.sentAt.push(performance.now());
    agent.ws.send(batchText());
  };

  const agents = await Promise.all(
    plan.tokens.map(
      (token) =>
        new Promise<Agent>((resolve, reject) => {
          const ws = new WebSocket(plan.wsUrl, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
          const agent: Agent = { ws, sentAt: [] };
          ws.once('error', reject);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode ?? '?'}`)));
          ws.once('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'bench' }, clock: new Date().toISOString() })));
          ws.on('message', (data) => {
            const message = JSON.parse(data.toString()) as { type?: string; ids?: string[]; code?: string; message?: string };
            if (message.type === 'welcome') return resolve(agent);
            if (message.type === 'ack') {
              acked += message.ids?.length ?? 0;
              const at = agent.sentAt.shift();
              if (at !== undefined) ackMs.push(performance.now() - at);
              if (acked >= plan.total) return finish();
              return sendBatch(agent);
            }
            // The controller's pushes (settings after every welcome, an announced release) are not refusals.
            if (message.type === 'config' || message.type === 'upgrade') return;
            refusals++;
            firstRefusal ??= `${message.type ?? '?'} ${message.code ?? ''}: ${message.message ?? ''}`;
          });
          ws.once('close', (code, reason) => {
            if (acked < plan.total) {
              refusals++;
              firstRefusal ??= `connection closed ${code} ${reason.toString()}`;
              finish();
            }
          });
        }),
    ),
  );
  say({ event: 'ready', agents: agents.length });
  const go = await new Promise<boolean>((resolve) => {
    process.stdin.once('data', () => resolve(true));
    process.stdin.once('end', () => resolve(false));
  });
  process.stdin.destroy();
  if (!go) {
    for (const agent of agents) agent.ws.terminate();
    throw new Error('stdin closed before the go line');
  }

  const cpu = process.cpuUsage();
  started = performance.now();
  for (let k = 0; k < plan.inFlight; k++) for (const agent of agents) sendBatch(agent);
  await finished;
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const outcome: LoadOutcome = {
    event: 'done',
    acked,
    elapsedMs,
    cpuMs: (used.user + used.system) / 1000,
    ackP50Ms: ackMs.length > 0 ? percentile(ackMs, 50) : Number.NaN,
    ackP99Ms: ackMs.length > 0 ? percentile(ackMs, 99) : Number.NaN,
    refusals,
    ...(firstRefusal === undefined ? {} : { firstRefusal }),
  };
  for (const agent of agents) agent.ws.terminate();
  say(outcome);
}

const planPath = process.argv[2];
if (planPath === undefined) {
  process.stderr.write('usage: node collector-load.js PLAN.json\n');
  process.exitCode = 1;
} else {
  main(planPath).catch((err: unknown) => {
    process.stderr.write(`collector-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
