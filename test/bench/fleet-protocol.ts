/**
 * What the fleet simulator (fleet.ts) and its agent processes (fleet-agents.ts) say to each
 * other: a plan file, then one JSON command per stdin line and one JSON event per stdout line;
 * and the identity of simulated agent number `i`, which both sides derive from `i`.
 */
import type { Site, SiteKind } from '@speedwatch/shared';
import { SITE_KINDS } from '@speedwatch/shared';

const ISPS = ['VNPT', 'Viettel', 'FPT', 'MobiFone'];

/** The id of simulated agent `index` (0-based): fleet-00000 … */
export function fleetAgentId(index: number): string {
  return `fleet-${String(index).padStart(5, '0')}`;
}

/**
 * The site of simulated agent `index`, as registered and as said in its hello. Labels vary
 * as in a real fleet (63 provinces, 705 districts); all are fixed lines, like the result template.
 */
export function fleetSite(index: number): Site {
  return {
    name: `Site ${index}`,
    kind: SITE_KINDS[index % SITE_KINDS.length] as SiteKind,
    technology: 'fixed',
    isp: ISPS[index % ISPS.length] as string,
    area: `Province ${index % 63}/District ${index % 705}/Commune ${index}`,
  };
}

/** What one agents process simulates; written by fleet.ts as a JSON file. */
export interface FleetAgentsPlan {
  /** Name in messages, e.g. "agents-1". */
  label: string;
  /** ws://127.0.0.1:PORT/v1/agents */
  wsUrl: string;
  /** Index of this process's first agent in the fleet (for fleetSite). */
  firstIndex: number;
  /** One token per simulated agent, for agents firstIndex, firstIndex + 1, … */
  tokens: string[];
  /** Mean time between two results of one agent, ms (compressed time); each gap is drawn from [0.5, 1.5] × this. */
  intervalMs: number;
  /** Chance that an agent drops its connection at one of its results during the hold, 0..1. */
  dropChance: number;
  /** Results each agent accumulates while offline before the reconnect storm. */
  backlog: number;
  /** Results per `results` message at most (the agent's default is 100). */
  batch: number;
  /** The agent's own ping period, ms: no pong by the next ping drops the connection (the real agent's pingIntervalMs). */
  pingIntervalMs: number;
  /** Handshakes in progress at once while the fleet first connects. */
  connectConcurrency: number;
  /** Where the process writes its id files at the end. */
  outDir: string;
}

/** parent → agents process, one per stdin line. */
export type FleetCommand =
  /** Connect every agent (hello, await welcome), at most `connectConcurrency` handshakes at a time. */
  | { cmd: 'connect' }
  /** Send results at the plan's pace with random drops for `durationMs`, then stop and wait until every agent is connected with nothing unacked. */
  | { cmd: 'hold'; durationMs: number }
  /** The collector was just told to push new settings: answers once every agent has received and acked settings of another version than it had. */
  | { cmd: 'push' }
  /** Every agent drops its connection and accumulates `backlog` results. */
  | { cmd: 'offline' }
  /** Every agent reconnects at once and replays its backlog. */
  | { cmd: 'storm' }
  /** Close every connection (1000), write the id files, report and exit. */
  | { cmd: 'stop' };

/** Running totals of one agents process. */
export interface FleetCounters {
  /** Results made. */
  generated: number;
  /** Results put on the wire, resends included. */
  sent: number;
  /** Of those, results sent again after a connection was lost before their ack. */
  resent: number;
  /** Distinct results acked. */
  acked: number;
  /** Results sent into a connection already gone (never reached the collector; re-sent later). */
  vanished: number;
  /** Results acked on a connection being dropped, so never heard (each is re-sent and acked again). */
  acksLost: number;
  /** Connections welcomed, first ones included. */
  welcomes: number;
  /** Connections the simulator dropped on purpose (random reconnects, going offline). */
  drops: number;
  /** Connections closed that the simulator did not close, by close code (1006: the collector's heartbeat terminated it, or the socket failed). */
  unexpectedCloses: Record<string, number>;
  /** Connections the agent itself dropped because the collector did not answer its ping. */
  agentHeartbeatDrops: number;
  /** Connection attempts that failed before the welcome, by reason (an error code, `HTTP 429`, `handshake timeout`). */
  connectFailures: Record<string, number>;
  /** Pings received from the collector. */
  pings: number;
  /** `config` messages received (each acked with config-applied, as the agent does). */
  settings: number;
  /** `reject` and `error` messages received (0 in a clean run); the first one is in `firstRefusal`. */
  refusals: number;
  firstRefusal?: string;
}

/** Counters at zero, for an agents process to start from and for the parent to sum into. */
export function zeroCounters(): FleetCounters {
  return {
    generated: 0,
    sent: 0,
    resent: 0,
    acked: 0,
    acksLost: 0,
    vanished: 0,
    welcomes: 0,
    drops: 0,
    unexpectedCloses: {},
    agentHeartbeatDrops: 0,
    connectFailures: {},
    pings: 0,
    settings: 0,
    refusals: 0,
  };
}

/** agents process → parent, one per stdout line. */
export type FleetEvent =
  | { event: 'ready'; agents: number; openFilesLimit: number }
  | { event: 'connected'; elapsedMs: number; counters: FleetCounters }
  | {
      event: 'held';
      /** Agents connected, welcomed and with nothing unacked after the hold. */
      settled: number;
      /** Time from the end of the pacing until every agent had settled. */
      settleMs: number;
      /** Pings each agent that never dropped received during the hold: fewest and median. */
      pingsMin: number;
      pingsMedian: number;
      /** Agents that dropped at least once during the hold. */
      droppedAgents: number;
      counters: FleetCounters;
    }
  | { event: 'offline'; backlog: number; counters: FleetCounters }
  /** Every agent acked new settings; elapsedMs from the command to the last ack sent. */
  | { event: 'pushed'; elapsedMs: number; counters: FleetCounters }
  | {
      event: 'drained';
      /** Results acked from the storm's start until every outbox was empty. */
      results: number;
      /** From the storm command until the last agent was welcomed again. */
      welcomedMs: number;
      /** From the storm command until every outbox was empty. */
      elapsedMs: number;
      /** Per agent, from the storm command to its welcome and to its outbox emptying: median and p90, ms. */
      welcomeMs: { p50: number; p90: number };
      drainMs: { p50: number; p90: number };
      counters: FleetCounters;
    }
  | { event: 'stopped'; generatedFile: string; ackedFile: string; counters: FleetCounters }
  | { event: 'failed'; message: string };
