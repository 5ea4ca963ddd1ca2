/**
 * The agent daemon: on the schedule, run one test in a child process, keep its result durably
 * in the outbox, and let the collector client stream the outbox. The collector's pushed
 * settings (site, schedule, endpoints, test parameters) are stored in the data dir and used
 * from the next test. Process concerns (argv, signals, exit codes) stay in bin/.
 */
import os from 'node:os';
import type { AgentSettings, BudgetDecision, HealthDataUsage, Logger, MeasurementResult, UpgradeMessage } from '@speedwatch/shared';
import { SpeedwatchError } from '@speedwatch/shared';
import type { AgentConfig } from '../config/agent-config.js';
import { AGENT_DEFAULTS } from '../config/agent-config.js';
import type { Outbox } from '../outbox/outbox.js';
import type { Clock, RunContext } from '../schedule/scheduler.js';
import { Scheduler } from '../schedule/scheduler.js';
import { saveSettings } from '../settings/settings-file.js';
import type { TestPlan } from '../settings/test-plan.js';
import { onceArgs, testPlan } from '../settings/test-plan.js';
import type { CollectorAuthError } from '../stream/collector-client.js';
import { CollectorClient } from '../stream/collector-client.js';
import { DEFAULT_SPEED_TEST_OPTIONS, speedTestBoundMs } from '../measure/speed-test-options.js';
import { measureInChild } from './measure-in-child.js';
import type { BoxHealth } from '../health/box-health.js';
import { readBoxHealth } from '../health/box-health.js';
import { TestHistory } from '../health/test-history.js';
import type { UpgraderOptions } from '../upgrade/upgrader.js';
import { Upgrader } from '../upgrade/upgrader.js';
import type { UsageLedger } from '../budget/usage-ledger.js';
import { entryOf } from '../budget/usage-ledger.js';
import { planWithinBudget } from '../budget/budget-planner.js';
import type { LineCheck } from '../traffic/busy-line.js';
import { checkLine } from '../traffic/busy-line.js';
import type { InterfaceCounters } from '../traffic/interface-counters.js';
import { readInterfaceCounters } from '../traffic/interface-counters.js';
import { interfaceForHost } from '../traffic/route-interface.js';

export interface AgentDaemonDeps {
  config: Readonly<AgentConfig>;
  /** The settings the collector last pushed, as stored in the data dir. */
  settings?: AgentSettings;
  outbox: Outbox;
  logger: Logger;
  /** Path of speedwatch-agent.js, run as `once` for each test. */
  bin: string;
  version: string;
  clock: Clock;
  random: () => number;
  /**
   * Run a test as soon as there are endpoints to test against (at start, or when the collector
   * first sends some), not at a random point of the first interval: a box just enrolled shows
   * the person installing it that it works. `onFirstTest` hears that test's result.
   */
  firstTestNow?: boolean;
  onFirstTest?: (result: MeasurementResult) => Promise<void>;
  /**
   * The daemon cannot go on: the collector refused the token (SW_AGENT_UNAUTHORIZED), or the
   * outbox failed in a way only a restart mends (SW_OUTBOX_CLOSED). The caller should exit.
   */
  onFatal: (err: CollectorAuthError | SpeedwatchError) => void;
  /** The box's figures for the `health` message. Default: readBoxHealth of the data directory, /sys/class/thermal. */
  boxHealth?: () => Promise<BoxHealth>;
  /**
   * Upgrades from the collector (docs/fleet.md, "Upgrades"): the announced release is kept,
   * and installed when the config's `autoUpgrade` is on; a version on trial is confirmed by the
   * welcome. `restart` is called when the daemon should stop and exit with the restart status.
   * None: announcements are ignored.
   */
  upgrade?: Pick<UpgraderOptions, 'restart' | 'fromVersionsDir'> & Partial<Pick<UpgraderOptions, 'trialMs' | 'retryMs' | 'download' | 'now'>>;
  /** The tests' data use (docs/agent.md, "Metered links"): what a budget plans by and `health` reports. None: neither. */
  ledger?: UsageLedger;
  /** Wall-clock time, ms since the epoch: which calendar month a test falls in. Default Date.now. */
  wallClock?: () => number;
  /** An interface's counters (default /proc/net/dev) and the interface to a host (default the routing table): the busy-line check. */
  readCounters?: (iface: string) => Promise<InterfaceCounters>;
  interfaceFor?: (hostname: string) => Promise<string | undefined>;
}

export class AgentDaemon {
  readonly #d: AgentDaemonDeps;
  readonly #client: CollectorClient;
  readonly #scheduler: Scheduler;
  readonly #log: Logger;
  #plan: TestPlan;
  #firstTestPending: boolean;
  /** Logged once until endpoints arrive. */
  #noEndpointsLogged = false;
  /** A test-now waiting for its delay. */
  #testNowTimer: unknown;
  readonly #history = new TestHistory();
  readonly #upgrader: Upgrader | undefined;
  /** The test in progress, if any; while `#held`, no new test starts (an upgrade is being installed). */
  #testing: Promise<void> | undefined;
  #held = false;
  /** Logged once: the busy-line check cannot read this box's counters or routes. */
  #busyLineUnavailableLogged = false;

  constructor(deps: AgentDaemonDeps) {
    this.#d = deps;
    const { config, logger } = deps;
    this.#log = logger;
    this.#plan = this.#planFrom(deps.settings);
    this.#firstTestPending = deps.firstTestNow === true;
    const software = { version: deps.version, platform: os.platform(), arch: os.arch(), node: process.versions.node };
    const boxHealth = deps.boxHealth ?? (() => readBoxHealth({ dataDir: config.dataDir }));
    const upgrade = deps.upgrade;
    this.#upgrader =
      upgrade === undefined
        ? undefined
        : new Upgrader({
            ...upgrade,
            dataDir: config.dataDir,
            version: deps.version,
            auto: config.autoUpgrade,
            collectorUrl: config.collector.url,
            token: config.collector.token,
            ...(config.collector.ca === undefined ? {} : { ca: config.collector.ca }),
            logger: logger.child({ component: 'upgrade' }),
            clock: deps.clock,
            random: deps.random,
            quiesce: () => this.#quiesce(),
          });
    this.#client = new CollectorClient({
      url: config.collector.url,
      token: config.collector.token,
      ...(config.collector.ca === undefined ? {} : { ca: config.collector.ca }),
      queue: deps.outbox,
      logger: logger.child({ component: 'stream' }),
      clock: deps.clock,
      random: deps.random,
      hello: () => ({
        type: 'hello',
        protocol: 1,
        agent: software,
        ...(this.#plan.site === undefined ? {} : { site: this.#plan.site }),
      }),
      onFatal: deps.onFatal,
      onSettings: (settings) => this.#applySettings(settings),
      onTestNow: (delayMs) => this.#testNow(delayMs),
      ...(this.#upgrader === undefined
        ? {}
        : { onWelcome: () => this.#upgrader?.welcomed(), onUpgrade: (offer: UpgradeMessage) => this.#upgrader?.offered(offer) }),
      health: async () => {
        const dataUsage = this.#dataUsage();
        return { agent: software, ...(await boxHealth()), ...this.#history.figures(), ...(dataUsage === undefined ? {} : { dataUsage }) };
      },
      healthIntervalMs: config.health.intervalMs,
    });
    const log = logger.child({ component: 'schedule' });
    this.#scheduler = new Scheduler({
      intervalMs: this.#plan.intervalMs,
      runBoundMs: this.#runBoundMs(),
      clock: deps.clock,
      random: deps.random,
      run: (ctx) => this.#track(this.#runTest(ctx)),
      onEvent: (event) => {
        const level = event.type === 'failed' || event.type === 'overran' || event.type === 'abandoned' ? 'warn' : 'info';
        log[level]({ ...event, event: `schedule-${event.type}` }, `schedule: ${event.type}`);
      },
    });
  }

  /** The plan the next test uses. */
  get plan(): Readonly<TestPlan> {
    return this.#plan;
  }

  start(): void {
    this.#upgrader?.start();
    this.#client.start();
    this.#scheduler.start();
    this.#maybeFirstTest();
  }

  /** Stops the current test (its partial result is kept), the schedule, an upgrade in progress and the stream. */
  async stop(): Promise<void> {
    if (this.#testNowTimer !== undefined) this.#d.clock.clearTimeout(this.#testNowTimer);
    this.#testNowTimer = undefined;
    await this.#scheduler.stop();
    await this.#upgrader?.stop();
    await this.#client.stop();
  }

  /** Stopped by a signal (not by a failure): a version on trial gets its trial again at the next start. */
  postponeTrial(): void {
    this.#upgrader?.postponeTrial();
  }

  #track(test: Promise<void>): Promise<void> {
    const tracked = test.finally(() => {
      if (this.#testing === tracked) this.#testing = undefined;
    });
    this.#testing = tracked;
    return tracked;
  }

  /** Waits for the test in progress and holds new ones off until the returned function is called. */
  async #quiesce(): Promise<() => void> {
    this.#held = true;
    await this.#testing?.catch(() => undefined);
    return () => {
      this.#held = false;
    };
  }

  #planFrom(settings: AgentSettings | undefined): TestPlan {
    const { plan, problems } = testPlan(this.#d.config, settings, { warmupMs: AGENT_DEFAULTS.warmupMs });
    for (const problem of problems) this.#log.warn({ event: 'settings-problem', version: settings?.version ?? null }, problem);
    return plan;
  }

  /**
   * The test's own bound (a function of its options), plus time for the child to start and stop,
   * plus the longest the busy-line check may hold it back: every sample, and every wait between.
   */
  #runBoundMs(): number {
    const plan = this.#plan;
    const busy = this.#d.config.busyLine;
    const checkMs = busy.check ? busy.tries * busy.sampleMs + busy.retryAfterMs * (2 ** (busy.tries - 1) - 1) : 0;
    return speedTestBoundMs({ ...DEFAULT_SPEED_TEST_OPTIONS, ...plan.test, endpoints: plan.endpoints.resolved, agentVersion: this.#d.version }) + 10_000 + checkMs;
  }

  /** The month's data use for `health`, in the budget's zone (the box's own without a budget). */
  #dataUsage(): HealthDataUsage | undefined {
    const ledger = this.#d.ledger;
    if (ledger === undefined) return undefined;
    const budget = this.#plan.budget;
    const timeZone = budget?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    const { month, usedBytes } = ledger.usedIn((this.#d.wallClock ?? Date.now)(), timeZone);
    return { month, usedBytes, ...(budget === undefined ? {} : { budgetBytes: budget.monthlyBytes }) };
  }

  /**
   * The busy-line check before a test (traffic/busy-line.ts): the interface the route to the
   * endpoint leaves by, sampled, and while busy sampled again after a wait, within the slot. The
   * first test after enrolling is checked once and never held back (someone at the box waits for
   * it); a collector's test-now is held back like a scheduled test, within the slot it runs in.
   * Undefined when the check is off or cannot run here (logged once).
   */
  async #checkLine(ctx: RunContext, plan: TestPlan): Promise<{ iface: string; check: LineCheck } | undefined> {
    const settings = this.#d.config.busyLine;
    const first = plan.endpoints.resolved[0];
    if (!settings.check || first === undefined) return undefined;
    const read = this.#d.readCounters ?? ((iface: string) => readInterfaceCounters(iface));
    let iface: string | undefined;
    try {
      iface = await (this.#d.interfaceFor ?? ((host: string) => interfaceForHost(host)))(first.downloadUrl.hostname);
      // On loopback the endpoint's side of a test passes the same counters: nothing to tell apart.
      if (iface === undefined || iface === 'lo') return undefined;
      await read(iface);
    } catch (err) {
      if (!this.#busyLineUnavailableLogged) {
        this.#busyLineUnavailableLogged = true;
        this.#log.warn({ event: 'busy-line-unavailable', err }, 'busy lines: cannot read this box\'s routes or interface counters; tests run unchecked');
      }
      return undefined;
    }
    const name = iface;
    const check = await checkLine({
      iface: name,
      settings: { ...settings, tries: ctx.instant && this.#firstTestPending ? 1 : settings.tries },
      read,
      clock: this.#d.clock,
      signal: ctx.signal,
      startBy: ctx.slotEndsAt - this.#scheduler.runBoundMs,
      onPostponed: ({ bytesPerSec, check: n, waitMs }) =>
        this.#log.info({ event: 'test-postponed', slot: ctx.slot, interface: name, bytesPerSec, thresholdBytesPerSec: settings.thresholdBytesPerSec, check: n, waitMs }, 'busy line: test postponed'),
    });
    return { iface: name, check };
  }

  /** Stores the collector's settings, then uses them from the next test (the client acknowledges once this resolves). */
  async #applySettings(settings: AgentSettings): Promise<void> {
    if (settings.version === this.#plan.settingsVersion) return;
    await saveSettings(this.#d.config.dataDir, settings);
    const before = this.#plan;
    this.#plan = this.#planFrom(settings);
    const runBoundMs = this.#runBoundMs();
    if (this.#plan.intervalMs !== before.intervalMs || runBoundMs !== this.#scheduler.runBoundMs) {
      this.#scheduler.reschedule({ intervalMs: this.#plan.intervalMs, runBoundMs });
    }
    this.#log.info(
      { event: 'settings-applied', version: settings.version, intervalMs: this.#plan.intervalMs, endpoints: this.#plan.endpoints.resolved.length, site: this.#plan.site?.name ?? null, paused: this.#plan.paused },
      'new settings from the collector, used from the next test',
    );
    this.#maybeFirstTest();
  }

  /** The collector's "test now": after `delayMs`, unless a test runs then or the agent is paused (a newer request replaces a waiting one). */
  #testNow(delayMs: number): void {
    if (this.#plan.paused) {
      this.#log.info({ event: 'test-now-ignored', reason: 'paused' }, 'test now: ignored, the agent is paused');
      return;
    }
    if (this.#testNowTimer !== undefined) this.#d.clock.clearTimeout(this.#testNowTimer);
    this.#testNowTimer = this.#d.clock.setTimeout(() => {
      this.#testNowTimer = undefined;
      const started = this.#scheduler.runNow();
      this.#log.info({ event: started ? 'test-now' : 'test-now-ignored', ...(started ? {} : { reason: 'a test is running' }) }, started ? 'test now: starting' : 'test now: a test is already running');
    }, delayMs);
  }

  #maybeFirstTest(): void {
    if (!this.#firstTestPending || this.#plan.paused || this.#plan.endpoints.resolved.length === 0) return;
    if (this.#scheduler.runNow()) this.#log.info({ event: 'first-test' }, 'first test after enrollment: starting now');
  }

  async #runTest(ctx: RunContext): Promise<void> {
    const { signal, slot } = ctx;
    const { logger } = this.#d;
    let plan = this.#plan;
    if (this.#held) {
      logger.info({ event: 'test-held', slot }, 'no test in this slot: an upgrade is being installed');
      return;
    }
    if (plan.paused) {
      logger.info({ event: 'test-skipped', reason: 'paused', slot }, 'no test: paused from the collector');
      return;
    }
    if (plan.endpoints.resolved.length === 0) {
      if (!this.#noEndpointsLogged) {
        this.#noEndpointsLogged = true;
        logger.warn({ event: 'no-endpoints' }, 'no test: neither the config file nor the collector names endpoints yet; waiting for the collector\'s settings');
      }
      return;
    }
    let decision: BudgetDecision | undefined;
    const ledger = this.#d.ledger;
    if (plan.budget !== undefined && ledger !== undefined) {
      const nowMs = (this.#d.wallClock ?? Date.now)();
      const { usedBytes } = ledger.usedIn(nowMs, plan.budget.timeZone);
      const planned = planWithinBudget({ budget: plan.budget, nowMs, intervalMs: plan.intervalMs, usedBytes, recent: ledger.recent, test: plan.test });
      decision = planned.decision;
      plan = { ...plan, test: { ...plan.test, ...planned.test } };
      if (decision.action !== 'full') logger.info({ event: `budget-${decision.action}`, slot, ...decision }, `data budget: test ${decision.action} (${decision.reason})`);
    }
    let line: { iface: string; check: LineCheck } | undefined;
    try {
      line = await this.#checkLine(ctx, plan);
    } catch (err) {
      if (signal.aborted) return; // stopped while waiting for a quiet line
      // The counters went away mid-check (an interface taken down): test unchecked rather than not at all.
      logger.warn({ event: 'busy-line-check-failed', slot, err }, 'busy lines: the check failed; the test runs unchecked');
    }
    const threshold = this.#d.config.busyLine.thresholdBytesPerSec;
    const args = [
      ...onceArgs(plan),
      ...(line === undefined ? [] : ['--cross-traffic', '--cross-traffic-interface', line.iface, '--cross-traffic-threshold', String(threshold)]),
      ...(decision?.capBytes === undefined ? [] : ['--max-bytes', String(decision.capBytes)]),
    ];
    const result = await measureInChild({ bin: this.#d.bin, args, signal, technology: plan.site?.technology ?? 'fixed' });
    if (decision !== undefined) {
      const capped = result.errors?.some((e) => e.code === 'SW_BUDGET_CAPPED') === true || (decision.capBytes !== undefined && (result.usage?.bytes ?? 0) >= decision.capBytes);
      result.budget = { ...decision, ...(decision.capBytes === undefined ? {} : { capped }) };
    }
    if (line !== undefined && result.busyLine !== undefined) {
      // Busy before it (the checks ran out) or during it: either way it ran under cross traffic.
      result.busyLine = { ...result.busyLine, sampleMs: this.#d.config.busyLine.sampleMs, preTestBytesPerSec: line.check.samplesBytesPerSec, flagged: result.busyLine.flagged || !line.check.quiet };
    }
    if (ledger !== undefined) {
      await ledger.record(entryOf(result), (this.#d.wallClock ?? Date.now)()).catch((err: unknown) => logger.warn({ event: 'usage-record-failed', err }, 'could not keep the test\'s data use in the ledger'));
    }
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
        settingsVersion: plan.settingsVersion ?? null,
        usedBytes: result.usage?.bytes ?? null,
        crossTrafficBytes: result.busyLine?.crossTrafficBytes ?? null,
        busy: result.busyLine?.flagged ?? null,
      },
      'test finished and stored in the outbox',
    );
    this.#client.notify();
    if (this.#firstTestPending) {
      this.#firstTestPending = false;
      await this.#d.onFirstTest?.(result).catch((err: unknown) => logger.warn({ event: 'first-test-record-failed', err }, 'could not record the first test for `speedwatch-agent enroll`'));
    }
  }
}
