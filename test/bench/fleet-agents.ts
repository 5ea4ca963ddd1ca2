/**
 * One process of simulated agents for the fleet simulator (fleet.ts), so that the collector's
 * CPU and memory are its own. Usage: node fleet-agents.js PLAN.json
 *
 * Reads FleetCommand lines on stdin and answers with FleetEvent lines on stdout
 * (fleet-protocol.ts). At `stop` it writes every id it made and every id acked to the plan's
 * outDir (one per line) for the parent to compare with the database, then exits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { median, percentile } from '@speedwatch/shared';
import { ResultText, resultTemplate } from './collector-results.js';
import type { FleetContext } from './fleet-agent.js';
import { SimAgent } from './fleet-agent.js';
import type { FleetAgentsPlan, FleetCommand, FleetCounters, FleetEvent } from './fleet-protocol.js';
import { fleetAgentId, fleetSite, zeroCounters } from './fleet-protocol.js';

/** How long the agents may take to settle after the hold, and to close before going offline. */
const SETTLE_TIMEOUT_MS = 180_000;
const POLL_MS = 50;

function say(event: FleetEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** The soft limit on open files of this process, from /proc (Linux); Infinity when unlimited. */
function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/** Resolves once `done()` holds (checked every POLL_MS), or with false after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

function snapshot(counters: FleetCounters): FleetCounters {
  return { ...counters, unexpectedCloses: { ...counters.unexpectedCloses }, connectFailures: { ...counters.connectFailures } };
}

function spread(values: readonly number[]): { p50: number; p90: number } {
  return values.length === 0 ? { p50: Number.NaN, p90: Number.NaN } : { p50: median(values), p90: percentile(values, 90) };
}

class AgentsProcess {
  readonly #plan: FleetAgentsPlan;
  readonly #context: FleetContext;
  readonly #agents: SimAgent[];
  /** Agents whose outbox emptied during the storm, and when (performance.now()). */
  readonly #drainedInStorm = new Map<SimAgent, number>();
  /** Agents welcomed again during the storm, and when first. */
  readonly #welcomedInStorm = new Map<SimAgent, number>();
  #storming = false;

  constructor(plan: FleetAgentsPlan) {
    this.#plan = plan;
    this.#context = {
      url: plan.wsUrl,
      text: new ResultText(resultTemplate('agent-default')),
      random: Math.random,
      now: Date.now,
      counters: zeroCounters(),
      acked: new Set(),
      batch: plan.batch,
      intervalMs: plan.intervalMs,
      pingIntervalMs: plan.pingIntervalMs,
      onWelcome: (agent) => {
        if (this.#storming && !this.#welcomedInStorm.has(agent)) this.#welcomedInStorm.set(agent, performance.now());
      },
      onSettled: (agent) => {
        if (this.#storming && !this.#drainedInStorm.has(agent)) this.#drainedInStorm.set(agent, performance.now());
      },
    };
    this.#agents = plan.tokens.map((token, i) => new SimAgent(this.#context, fleetAgentId(plan.firstIndex + i), token, fleetSite(plan.firstIndex + i)));
  }

  get size(): number {
    return this.#agents.length;
  }

  async run(command: FleetCommand): Promise<FleetEvent | undefined> {
    switch (command.cmd) {
      case 'connect':
        return this.#connect();
      case 'hold':
        return this.#hold(command.durationMs);
      case 'push':
        return this.#push();
      case 'offline':
        return this.#offline();
      case 'storm':
        return this.#storm();
      case 'stop':
        return this.#stop();
    }
  }

  /** Every agent connects, at most connectConcurrency handshakes at a time. */
  async #connect(): Promise<FleetEvent> {
    const started = performance.now();
    let next = 0;
    const welcomed = (): number => this.#agents.reduce((n, a) => n + (a.welcomed ? 1 : 0), 0);
    const ok = await until(() => {
      // Top up the handshakes in progress: started minus welcomed.
      const inProgress = next - welcomed();
      for (let k = inProgress; k < this.#plan.connectConcurrency && next < this.#agents.length; k++) (this.#agents[next++] as SimAgent).connect();
      return next === this.#agents.length && welcomed() === this.#agents.length;
    }, SETTLE_TIMEOUT_MS);
    if (!ok) return { event: 'failed', message: `${this.#plan.label}: ${welcomed()} of ${this.#agents.length} agents welcomed within ${SETTLE_TIMEOUT_MS} ms` };
    return { event: 'connected', elapsedMs: performance.now() - started, counters: snapshot(this.#context.counters) };
  }

  /** Results at the plan's pace with random drops for `durationMs`, then waits until every agent has settled. */
  async #hold(durationMs: number): Promise<FleetEvent> {
    for (const agent of this.#agents) {
      agent.markHold();
      agent.startPacing(this.#plan.dropChance);
    }
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    for (const agent of this.#agents) agent.stopPacing();
    const started = performance.now();
    await until(() => this.#agents.every((a) => a.settled), SETTLE_TIMEOUT_MS);
    const steady = this.#agents.filter((a) => !a.droppedSinceMark).map((a) => a.pingsSinceMark);
    return {
      event: 'held',
      settled: this.#agents.reduce((n, a) => n + (a.settled ? 1 : 0), 0),
      settleMs: performance.now() - started,
      pingsMin: steady.length > 0 ? Math.min(...steady) : Number.NaN,
      pingsMedian: steady.length > 0 ? median(steady) : Number.NaN,
      droppedAgents: this.#agents.length - steady.length,
      counters: snapshot(this.#context.counters),
    };
  }

  /** Waits until every agent has acked settings of another version than it had when the command came. */
  async #push(): Promise<FleetEvent> {
    const started = performance.now();
    const before = new Map(this.#agents.map((a) => [a, a.settingsVersion]));
    const pushed = (a: SimAgent): boolean => a.settingsVersion !== undefined && a.settingsVersion !== before.get(a);
    const ok = await until(() => this.#agents.every(pushed), SETTLE_TIMEOUT_MS);
    if (!ok) return { event: 'failed', message: `${this.#plan.label}: ${this.#agents.filter(pushed).length} of ${this.#agents.length} agents acked new settings within ${SETTLE_TIMEOUT_MS} ms` };
    return { event: 'pushed', elapsedMs: Math.max(...this.#agents.map((a) => a.settingsAckedAt)) - started, counters: snapshot(this.#context.counters) };
  }

  async #offline(): Promise<FleetEvent> {
    for (const agent of this.#agents) agent.goOffline(this.#plan.backlog);
    const ok = await until(() => this.#agents.every((a) => a.disconnected), SETTLE_TIMEOUT_MS);
    if (!ok) return { event: 'failed', message: `${this.#plan.label}: connections still open ${SETTLE_TIMEOUT_MS} ms after going offline` };
    return { event: 'offline', backlog: this.#agents.reduce((n, a) => n + a.backlog, 0), counters: snapshot(this.#context.counters) };
  }

  /** Every agent reconnects at once and replays its backlog; answers when every outbox is empty. */
  async #storm(): Promise<FleetEvent> {
    const started = performance.now();
    const ackedBefore = this.#context.counters.acked;
    this.#storming = true;
    this.#drainedInStorm.clear();
    this.#welcomedInStorm.clear();
    for (const agent of this.#agents) agent.connect();
    const ok = await until(() => this.#drainedInStorm.size === this.#agents.length, SETTLE_TIMEOUT_MS);
    const elapsedMs = performance.now() - started;
    this.#storming = false;
    if (!ok) return { event: 'failed', message: `${this.#plan.label}: ${this.#drainedInStorm.size} of ${this.#agents.length} agents replayed their backlog within ${SETTLE_TIMEOUT_MS} ms` };
    return {
      event: 'drained',
      results: this.#context.counters.acked - ackedBefore,
      welcomedMs: Math.max(...this.#welcomedInStorm.values()) - started,
      elapsedMs,
      welcomeMs: spread([...this.#welcomedInStorm.values()].map((at) => at - started)),
      drainMs: spread([...this.#drainedInStorm.values()].map((at) => at - started)),
      counters: snapshot(this.#context.counters),
    };
  }

  async #stop(): Promise<FleetEvent> {
    await Promise.all(this.#agents.map((a) => a.stop()));
    const generatedFile = join(this.#plan.outDir, `${this.#plan.label}-generated.txt`);
    const ackedFile = join(this.#plan.outDir, `${this.#plan.label}-acked.txt`);
    // "<result id> <agent id>" per line, so the parent can check who each stored result belongs to.
    writeFileSync(generatedFile, this.#agents.map((a) => a.made.map((id) => `${id} ${a.id}\n`).join('')).join(''));
    writeFileSync(ackedFile, [...this.#context.acked].join('\n'));
    return { event: 'stopped', generatedFile, ackedFile, counters: snapshot(this.#context.counters) };
  }
}

async function main(planPath: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as FleetAgentsPlan;
  const limit = openFilesLimit();
  // One socket per agent, plus Node's own descriptors.
  if (limit < plan.tokens.length + 256) {
    throw new Error(`${plan.label}: the open-file limit is ${limit}, too low for ${plan.tokens.length} sockets; raise the hard limit (ulimit -Hn; raising it needs root) to at least ${plan.tokens.length + 256}`);
  }
  const agents = new AgentsProcess(plan);
  say({ event: 'ready', agents: agents.size, openFilesLimit: limit });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const event = await agents.run(JSON.parse(line) as FleetCommand);
    if (event !== undefined) say(event);
    if (event?.event === 'stopped' || event?.event === 'failed') break;
  }
  lines.close();
  process.stdin.destroy();
}

const planPath = process.argv[2];
if (planPath === undefined) {
  process.stderr.write('usage: node fleet-agents.js PLAN.json\n');
  process.exitCode = 1;
} else {
  main(planPath).catch((err: unknown) => {
    say({ event: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  });
}
