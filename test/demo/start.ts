/**
 * `npm start`: the whole system on loopback. A collector (SQLite under ./data) on 127.0.0.1:8600,
 * two paced endpoints standing in for two lines (a "fixed" school line at about 120 Mbit/s on
 * :8601, a "mobile" clinic line at about 30 Mbit/s on :8602), and two agent daemons testing every
 * minute and streaming to the collector. It prints the console's address, asks both agents for a
 * first test at once, and then, as results land, one line per site with its latest figures and
 * its verdict (read from /api/v1/agents). The processes' JSON logs go to ./data/logs/, warnings
 * and errors to the terminal in a line. Ctrl-C stops everything. PORT moves the collector (the
 * endpoints follow at PORT+1 and PORT+2).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from '../support/processes.js';
import { ChildOutput } from './child-output.js';
import { parseAgents, SummaryPrinter } from './site-summary.js';

const port = Number(process.env['PORT'] ?? 8600);
if (!Number.isInteger(port) || port < 1 || port > 65533) {
  process.stderr.write(`npm start: PORT must be an integer from 1 to 65533, got ${JSON.stringify(process.env['PORT'])}\n`);
  process.exit(1);
}
const dataDir = resolve('data');
const logDir = join(dataDir, 'logs');
const db = join(dataDir, 'speedwatch.db');
const collectorUrl = `http://127.0.0.1:${port}/`;
const collectorBin = BIN.collector;
const sites = [
  { id: 'demo-school', name: 'Demo school (fixed broadband)', kind: 'school', technology: 'fixed', mbps: 120, port: port + 1, area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT' },
  { id: 'demo-clinic', name: 'Demo clinic (mobile broadband)', kind: 'clinic', technology: 'mobile', mbps: 30, port: port + 2, area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'Viettel' },
] as const;
/** How often the summary asks the collector; a result shows within this of landing. */
const POLL_MS = 2_000;
/** Longer than the demo's maintenance interval (10 s), so a new result is printed with the verdict that counts it. */
const VERDICT_HOLD_MS = 15_000;
// Actions (a first test now) need the admin token; a fresh one each start, kept only in the config file.
const adminToken = randomBytes(24).toString('base64url');

mkdirSync(logDir, { recursive: true });
// A demo has minutes of data, not a month: one test is enough for a verdict here.
writeFileSync(
  join(dataDir, 'collector.yaml'),
  `# Written by npm start. Production defaults need 10 tests per site and 300 per area.\nhost: 127.0.0.1\nport: ${port}\ndb: ${db}\nadminToken: ${adminToken}\nmaintenanceInterval: 10s\nverdicts:\n  minTests: { agent: 1, group: 1, area: { 1: 1, 2: 1, 3: 1 } }\n`,
  { mode: 0o600 },
);

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const children: { child: ChildProcess; output: ChildOutput }[] = [];
/** Starts a child whose lines go to data/logs/<file>.log; `onLine` sees every stdout line. */
function start(name: string, file: string, args: string[], onLine: (line: string) => void = () => {}): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new ChildOutput(name, join(logDir, `${file}.log`), say);
  children.push({ child, output });
  output.follow(child.stdout, onLine);
  output.follow(child.stderr);
  child.once('exit', (code, signal) => output.say(`exited (${code ?? signal}); its log: ${output.path}`));
  return child;
}

let stopping = false;
const polling = new AbortController();
async function stopAll(): Promise<void> {
  stopping = true;
  polling.abort();
  for (const { output } of children) output.quiet();
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  await Promise.all(children.map(({ output }) => output.close()));
}
function onSignal(): void {
  if (stopping) return;
  say('\nstopping the demo…');
  void stopAll().then(() => {
    say(`demo stopped; its data stays in ${dataDir} (npm start again carries on from it)`);
    process.exit(0);
  });
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

// Identities: a fresh token for each demo agent (added the first time, rotated after).
for (const site of sites) {
  const dir = join(dataDir, 'agents', site.id);
  mkdirSync(dir, { recursive: true });
  const known = existsSync(db) && execFileSync(process.execPath, [collectorBin, 'agents', 'list', '--db', db], { encoding: 'utf8' }).split('\n').some((l) => l.startsWith(`${site.id}\t`));
  const token = known
    ? execFileSync(process.execPath, [collectorBin, 'agents', 'rotate', site.id, '--db', db], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    : execFileSync(process.execPath, [collectorBin, 'agents', 'add', '--db', db, '--id', site.id, '--name', site.name, '--site-kind', site.kind, '--technology', site.technology, '--area', site.area, '--isp', site.isp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'agent.yaml'),
    [
      '# Written by npm start.',
      'collector:',
      `  url: ws://127.0.0.1:${port}/v1/agents`,
      '  tokenFile: token',
      'site:',
      `  name: ${JSON.stringify(site.name)}`,
      `  kind: ${site.kind}`,
      `  technology: ${site.technology}`,
      `  isp: ${site.isp}`,
      `  area: ${JSON.stringify(site.area)}`,
      'schedule:',
      '  interval: 1m',
      'endpoints:',
      `  urls: [http://127.0.0.1:${site.port}/]`,
      'test:',
      '  duration: 6s',
      'dataDir: state',
      '',
    ].join('\n'),
  );
}

/** Starts a server and resolves once it logs its listening line; rejects if it exits first or takes over 20 s. */
function startServer(name: string, file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start listening within 20 s`)), 20_000);
    const child = start(name, file, args, (line) => {
      if (!line.includes('"listening"')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was listening; its log: ${join(logDir, `${file}.log`)}`));
    });
  });
}

try {
  await Promise.all([
    startServer('collector', 'collector', [collectorBin, 'serve', '--config', join(dataDir, 'collector.yaml')]),
    ...sites.map((site) => startServer(`endpoint :${site.port}`, `endpoint-${site.port}`, [BIN.endpoint, '--host', '127.0.0.1', '--port', String(site.port), '--max-mbps', String(site.mbps), '--log-level', 'warn'])),
  ]);
} catch (err) {
  // Nothing is announced that is not running: say why, stop what did start, and fail.
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}; no demo is running (PORT=${port} uses ports ${port} to ${port + 2})\n`);
  await stopAll();
  process.exit(1);
}
for (const site of sites) start(site.id, site.id, [BIN.agent, 'run', '--config', join(dataDir, 'agents', site.id, 'agent.yaml')]);

say(`
speedwatch demo running
  console    ${collectorUrl}   open, no login (the demo sets no read token)
  data       ${dataDir}   (SQLite speedwatch.db, the configs; the processes' logs in logs/)
  API        curl ${collectorUrl}api/v1/agents   (more: docs/collector.md#api)
  lines      school http://127.0.0.1:${port + 1}/ paced to 120 Mbit/s, clinic http://127.0.0.1:${port + 2}/ to 30 Mbit/s
  stop       Ctrl-C (the data stays for the next npm start)
The agents are asked for a first test as soon as they connect, then test once a minute.
Each result is summed up below as it lands: latest download, upload and latency, and the verdict.
`);

/** Asks every demo agent for a test now (an admin action); the schedule would take up to a minute. */
async function firstTests(): Promise<void> {
  const res = await fetch(new URL('api/v1/tests', collectorUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    // Both demo sites are in Lạng Sơn; the collector spreads their tests 15 s apart.
    body: JSON.stringify({ area: 'Lạng Sơn' }),
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status !== 202) throw new Error(`POST /api/v1/tests answered ${res.status}`);
  const { requested } = (await res.json()) as { requested?: { id: string; delayMs: number }[] };
  const when = (requested ?? []).map((r) => `${r.id} ${r.delayMs === 0 ? 'now' : `in ${Math.round(r.delayMs / 1000)} s`}`);
  say(`asked for a first test: ${when.join(', ')}`);
}

/** Reads /api/v1/agents every POLL_MS until the demo stops, printing the summary as it changes. */
async function summarise(): Promise<void> {
  const printer = new SummaryPrinter(VERDICT_HOLD_MS, (text) => process.stdout.write(`\n${text}`));
  const ids: string[] = sites.map((s) => s.id);
  let askedForTests = false;
  let lastProblem = '';
  while (!polling.signal.aborted) {
    try {
      const res = await fetch(new URL('api/v1/agents', collectorUrl), { signal: AbortSignal.timeout(5_000) });
      if (res.status !== 200) throw new Error(`/api/v1/agents answered ${res.status}`);
      // In the banner's order (school, clinic), not the API's (by id).
      const demo = parseAgents(await res.json())
        .filter((s) => ids.includes(s.id))
        .sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
      if (polling.signal.aborted) return;
      if (!askedForTests && demo.length === ids.length && demo.every((s) => s.connected)) {
        askedForTests = true;
        await firstTests();
      }
      printer.update(demo, Date.now());
      lastProblem = '';
    } catch (err) {
      // The collector stops before this loop notices: nothing to report then.
      if (polling.signal.aborted) return;
      // Said once, not every poll: the collector's own warnings are shown beside it.
      const problem = err instanceof Error ? err.message : String(err);
      if (problem !== lastProblem) say(`  ! demo: cannot read the sites from the collector: ${problem}`);
      lastProblem = problem;
    }
    await sleep(POLL_MS, undefined, { signal: polling.signal }).catch(() => {});
  }
}
void summarise();
