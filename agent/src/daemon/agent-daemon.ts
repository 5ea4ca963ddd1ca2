/**
 * The agent daemon: on the schedule, run one test in a child process, keep its result durably
 * in the outbox, and let the collector client stream the outbox. Process concerns (argv,
 * signals, exit codes) stay in bin/.
 */
import os from 'node:os';
import type { Logger } from '@speedwatch/shared';
import { SpeedwatchError } from '@speedwatch/shared';
import type { AgentConfig } from '../config/agent-config.js';
import { onceArgs } from '../config/agent-config.js';
import type { Outbox } from '../outbox/outbox.js';
import type { Clock } from '../schedule/scheduler.js';
import { Scheduler } from '../schedule/scheduler.js';
import type { CollectorAuthError } from '../stream/collector-client.js';
import { CollectorClient } from '../stream/collector-client.js';
import { DEFAULT_SPEED_TEST_OPTIONS, speedTestBoundMs } from '../measure/speed-test-options.js';
import { measureInChild } from './measure-in-child.js';
import type { BoxHealth } from '../health/box-health.js';
import { readBoxHealth } from '../health/box-health.js';
import { TestHistory } from '../health/test-history.js';

export interface AgentDaemonDeps {
  config: Readonly<AgentConfig>;
  outbox: Outbox;
  logger: Logger;
  /** Path of speedwatch-agent.js, run as `once` for each test. */
  bin: string;
  version: string;
  clock: Clock;
  random: () => number;
  /**
   * The daemon cannot go on: the collector refused the token (SW_AGENT_UNAUTHORIZED), or the
   * outbox failed in a way only a restart mends (SW_OUTBOX_CLOSED). The caller should exit.
   */
  onFatal: (err: CollectorAuthError | SpeedwatchError) => void;
  /** The box's figures for the `health` message. Default: readBoxHealth of the data directory, /sys/class/thermal. */
  boxHealth?: () => Promise<BoxHealth>;
}

export class AgentDaemon {
  readonly #d: AgentDaemonDeps;
  readonly #client: CollectorClient;
  readonly #scheduler: Scheduler;
  readonly #history = new TestHistory();

  constructor(deps: AgentDaemonDeps) {
    this.#d = deps;
    const { config, logger } = deps;
    const software = { version: deps.version, platform: os.platform(), arch: os.arch(), node: process.versions.node };
    const boxHealth = deps.boxHealth ?? (() => readBoxHealth({ dataDir: config.dataDir }));
    this.#client = new CollectorClient({
      url: config.collector.url,
      token: config.collector.token,
      ...(config.collector.ca === undefined ? {} : { ca: config.collector.ca }),
      queue: deps.outbox,
      logger: logger.child({ component: 'stream' }),
      clock: deps.clock,
      random: deps.random,
      hello: () => ({ type: 'hello', protocol: 1, agent: software, site: config.site }),
      onFatal: deps.onFatal,
      health: async () => ({ agent: software, ...(await boxHealth()), ...this.#history.figures() }),
      healthIntervalMs: config.health.intervalMs,
    });
    // The test's own bound (a function of its options), plus time for the child to start and stop.
    const runBoundMs = speedTestBoundMs({ ...DEFAULT_SPEED_TEST_OPTIONS, ...config.test, endpoints: config.endpoints.resolved, agentVersion: deps.version }) + 10_000;
    const log = logger.child({ component: 'schedule' });
    this.#scheduler = new Scheduler({
      intervalMs: config.schedule.intervalMs,
      runBoundMs,
      clock: deps.clock,
      random: deps.random,
      run: ({ signal, slot }) => this.#runTest(signal, slot),
      onEvent: (event) => {
        const level = event.type === 'failed' || event.type === 'overran' || event.type === 'abandoned' ? 'warn' : 'info';
        log[level]({ ...event, event: `schedule-${event.type}` }, `schedule: ${event.type}`);
      },
    });
  }

  start(): void {
    this.#client.start();
    this.#scheduler.start();
  }

  /** Stops the current test (its partial result is kept), the schedule and the stream. */
  async stop(): Promise<void> {
    await this.#scheduler.stop();
    await this.#client.stop();
  }

  async #runTest(signal: AbortSignal, slot: number): Promise<void> {
    const { config, logger } = this.#d;
    const result = await measureInChild({ bin: this.#d.bin, args: onceArgs(config), signal, technology: config.site.technology });
    this.#history.record(result);
    try {
      await this.#d.outbox.append(result);
    } catch (err) {
      logger.error({ event: 'outbox-append-failed', err, resultId: result.id }, 'could not keep the result in the outbox');
      // A closed outbox (failed fsync) is only mended by reopening it: hand over to a restart.
      if (err instanceof SpeedwatchError && err.code === 'SW_OUTBOX_CLOSED') this.#d.onFatal(err);
      return;
    }
    logger.info(
      {
        event: 'test-done',
        slot,
        resultId: result.id,
        status: result.status,
        downloadMbps: result.download?.mbps ?? null,
        uploadMbps: result.upload?.mbps ?? null,
        latencyMs: result.latency?.medianMs ?? null,
        errorCode: result.error?.code ?? null,
      },
      'test finished and stored in the outbox',
    );
    this.#client.notify();
  }
}
