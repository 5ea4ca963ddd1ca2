/**
 * `npm start`: the whole system on loopback. A collector (SQLite under ./data) on 127.0.0.1:8600,
 * two paced endpoints standing in for two lines (a "fixed" school line at about 120 Mbit/s on
 * :8601, a "mobile" clinic line at about 30 Mbit/s on :8602), and two agent daemons testing every
 * minute and streaming to the collector. Within two minutes /api/v1/compliance shows the school
 * meeting 102 Mbps and the clinic below 42 Mbps. Ctrl-C stops everything. PORT moves the
 * collector (the endpoints follow at PORT+1 and PORT+2).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BIN } from '../support/processes.js';

const port = Number(process.env['PORT'] ?? 8600);
if (!Number.isInteger(port) || port < 1 || port > 65533) {
  process.stderr.write(`npm start: PORT must be an integer from 1 to 65533, got ${JSON.stringify(process.env['PORT'])}\n`);
  process.exit(1);
}
const dataDir = resolve('data');
const db = join(dataDir, 'speedwatch.db');
const collectorBin = BIN.collector;
const sites = [
  { id: 'demo-school', name: 'Demo school (fixed broadband)', kind: 'school', technology: 'fixed', mbps: 120, port: port + 1, area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT' },
  { id: 'demo-clinic', name: 'Demo clinic (mobile broadband)', kind: 'clinic', technology: 'mobile', mbps: 30, port: port + 2, area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'Viettel' },
] as const;

mkdirSync(dataDir, { recursive: true });
// A demo has minutes of data, not a month: one test is enough for a verdict here.
writeFileSync(
  join(dataDir, 'collector.yaml'),
  `# Written by npm start. Production defaults need 10 tests per site and 300 per area.\nhost: 127.0.0.1\nport: ${port}\ndb: ${db}\nmaintenanceInterval: 10s\nverdicts:\n  minTests: { agent: 1, group: 1, area: { 1: 1, 2: 1, 3: 1 } }\n`,
);

const children: ChildProcess[] = [];
/** Starts a child whose interesting lines are shown prefixed with its name; `onLine` sees every stdout line. */
function start(name: string, args: string[], onLine: (line: string) => void = () => {}): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const prefix = (line: string): string => `[${name}] ${line}\n`;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (stream === child.stdout) onLine(line);
        // Show what matters in a demo: results, warnings and errors, not every log line.
        if (/"level":(40|50)|test-done|listening|welcome/.test(line) || !line.startsWith('{')) process.stdout.write(prefix(line));
      }
    });
  }
  child.once('exit', (code, signal) => {
    if (!stopping) process.stdout.write(prefix(`exited (${code ?? signal})`));
  });
  return child;
}

let stopping = false;
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(timer);
            done();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}
process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

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

/** Starts a server and resolves once it prints its listening line; rejects if it exits first or takes over 20 s. */
function startServer(name: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start listening within 20 s`)), 20_000);
    const child = start(name, args, (line) => {
      if (!line.includes('"listening"')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was listening; its last words are above`));
    });
  });
}

try {
  await Promise.all([
    startServer('collector', [collectorBin, 'serve', '--config', join(dataDir, 'collector.yaml')]),
    ...sites.map((site) => startServer(`endpoint :${site.port}`, [BIN.endpoint, '--host', '127.0.0.1', '--port', String(site.port), '--max-mbps', String(site.mbps), '--log-level', 'warn'])),
  ]);
} catch (err) {
  // Nothing is announced that is not running: say why, stop what did start, and fail.
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}; no demo is running (PORT=${port} uses ports ${port} to ${port + 2})\n`);
  await stopAll();
  process.exit(1);
}
for (const site of sites) start(site.id, [BIN.agent, 'run', '--config', join(dataDir, 'agents', site.id, 'agent.yaml')]);

process.stdout.write(`
speedwatch demo running (Ctrl-C stops it):
  collector     http://127.0.0.1:${port}/   (SQLite: ${db})
  compliance    curl 'http://127.0.0.1:${port}/api/v1/compliance?window=24h&groupBy=technology'
  agents        curl http://127.0.0.1:${port}/api/v1/agents
  metrics       curl http://127.0.0.1:${port}/metrics
  endpoints     http://127.0.0.1:${port + 1}/ (school line, 120 Mbit/s), http://127.0.0.1:${port + 2}/ (clinic line, 30 Mbit/s)
Each agent tests once a minute, at a random point of the minute; verdicts appear within two minutes.

`);
