/**
 * `speedwatch-agent install-service` against a real collector, installing under a temporary
 * `--root` with `--no-start` (so nothing on this machine changes): the unit, the config and the
 * token land under the root with their modes, the config names the box's paths and passes
 * check-config, and `systemd-analyze verify` has nothing to say about the unit. Refusals write
 * nothing and leave the code unused. Starting the service and waiting for the first test need a
 * box booted with systemd; `first-test` (which that wait shares) is tested in
 * agent-enroll-e2e.test.ts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runToEnd, startEndpointProcess, startUntil } from './support/processes.js';
import type { Finished, Running } from './support/processes.js';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sw-install-service-'));
const db = join(dir, 'collector.db');
/** The agent package's bin, as the unit must run it (install-service takes its real path). */
const AGENT_BIN = realpathSync(new URL('../agent/bin/speedwatch-agent.js', import.meta.url).pathname);
/** The checkout, and the agent's bin as the box in the mount namespace sees it (bound at /mnt/speedwatch). */
const REPO = AGENT_BIN.slice(0, -'/agent/bin/speedwatch-agent.js'.length);
const BOX_AGENT_BIN = '/mnt/speedwatch/agent/bin/speedwatch-agent.js';
let endpoint: (Running & { url: string }) | undefined;
let collector: (Running & { line: string }) | undefined;
let agentsWs = '';

function collectorCli(...args: string[]): string {
  return execFileSync(process.execPath, [BIN.collector, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function codeUsed(id: string): boolean {
  const listed = JSON.parse(collectorCli('agents', 'list', '--db', db, '--json')) as { id: string; enrollment?: { usedAt?: number } }[];
  return listed.find((a) => a.id === id)?.enrollment?.usedAt !== undefined;
}

function installService(...args: string[]): Promise<Finished> {
  return runToEnd(process.execPath, [BIN.agent, 'install-service', '--collector', agentsWs, ...args], 30_000);
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

/** Why `systemd-analyze verify` cannot run here, or undefined; a printed skip, but a failure under CI. */
function systemdAnalyzeUnavailable(): string | undefined {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    const why = 'systemd-analyze is not installed (apt-get install -y systemd)';
    if (process.env['CI'] === 'true') throw new Error(`the unit check cannot run under CI: ${why}`);
    console.warn(`systemd-analyze verify of the installed unit SKIPPED: ${why}`);
    return why;
  }
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0']);
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    `db: ${db}\nport: 0\nlogLevel: warn\nfleet:\n  defaults:\n    interval: 1h\n    endpoints: [${endpoint.url}]\n    test: { duration: 1500ms, warmup: 300ms, streams: 2, latencyCount: 3 }\n`,
  );
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'));
  agentsWs = (JSON.parse(collector.line) as { url: string }).url.replace(/^http/, 'ws').replace(/\/$/, '/v1/agents');
}, 30_000);

afterAll(async () => {
  await collector?.stop();
  await endpoint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('speedwatch-agent install-service', () => {
  let code = '';
  const root = join(dir, 'root');
  const ca = join(dir, 'collector-ca.pem');
  let installed: Finished | undefined;

  beforeAll(() => {
    code = collectorCli('agents', 'add', '--db', db, '--id', 'ubnd-cao-loc', '--name', 'UBND huyện Cao Lộc', '--site-kind', 'office', '--technology', 'fixed', '--enroll');
    // Not used over ws://; install-service copies it where the service can read it and names the copy.
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot used over ws://\n-----END CERTIFICATE-----\n');
  });

  describe('refusals', () => {
    it('refuses a user other than root without --root, and leaves the code unused', async () => {
      // As root, run it as nobody; as anyone else, as this process's user.
      const asRoot = process.getuid?.() === 0;
      const argv = [BIN.agent, 'install-service', '--collector', agentsWs, '--code', code, '--no-start'];
      const run = await exec(process.execPath, argv, { ...(asRoot ? { uid: 65534, gid: 65534 } : {}), timeout: 20_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('[SW_INSTALL_NOT_ROOT]');
      expect(run.stderr).toContain('run it as root');
      expect(codeUsed('ubnd-cao-loc')).toBe(false);
    });

    it('catches a mistyped code on the box, before anything is written under the root', async () => {
      const typo = code.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
      const typoRoot = join(dir, 'typo-root');
      mkdirSync(typoRoot);
      const run = await installService('--code', typo, '--root', typoRoot, '--no-start');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('[SW_ENROLL_CODE_MISTYPED]');
      expect(readdirSync(typoRoot)).toEqual([]);
      expect(codeUsed('ubnd-cao-loc')).toBe(false);
    });

    it('refuses a --user that is not a user name', async () => {
      const run = await installService('--code', code, '--root', join(dir, 'no-root'), '--user', 'Speed Watch');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('--user "Speed Watch"');
      expect(existsSync(join(dir, 'no-root'))).toBe(false);
    });
  });

  describe('with --root DIR --no-start', () => {
    beforeAll(async () => {
      mkdirSync(root);
      installed = await installService('--code', code, '--root', root, '--no-start', '--ca', ca);
    });

    it('enrolls, says what it did and how to start the service, and exits 0', () => {
      expect(installed?.stderr).toBe('');
      expect(installed?.code).toBe(0);
      const out = installed?.stdout ?? '';
      expect(out).toContain(`User speedwatch: not created and nothing chowned to it, since --root ${root} is not /.`);
      expect(out).toContain('Enrolled as agent ubnd-cao-loc: UBND huyện Cao Lộc (office, fixed)');
      expect(out).toContain('Not started (--no-start).');
      expect(out).toContain('systemctl daemon-reload && systemctl enable --now speedwatch-agent.service');
      expect(codeUsed('ubnd-cao-loc')).toBe(true);
    });

    it('creates /etc/speedwatch (0755) and /var/lib/speedwatch (0750) under the root', () => {
      expect(mode(join(root, 'etc/speedwatch'))).toBe('0755');
      expect(mode(join(root, 'var/lib/speedwatch'))).toBe('0750');
    });

    it('writes the token (0600), the config (0640) naming the box\'s paths, and the CA copy the service can read', () => {
      const token = join(root, 'var/lib/speedwatch/token');
      expect(mode(token)).toBe('0600');
      expect(readFileSync(token, 'utf8')).toMatch(/^swa_\S+\n$/);
      const config = join(root, 'etc/speedwatch/agent.yaml');
      expect(mode(config)).toBe('0640');
      expect(parseYaml(readFileSync(config, 'utf8'))).toEqual({
        collector: { url: agentsWs, tokenFile: '/var/lib/speedwatch/token', caFile: '/etc/speedwatch/collector-ca.pem' },
        dataDir: '/var/lib/speedwatch',
      });
      expect(mode(join(root, 'etc/speedwatch/collector-ca.pem'))).toBe('0644');
      expect(readFileSync(join(root, 'etc/speedwatch/collector-ca.pem'), 'utf8')).toBe(readFileSync(ca, 'utf8'));
      // The daemon's first run tests at once.
      expect(existsSync(join(root, 'var/lib/speedwatch/first-test-pending'))).toBe(true);
    });

    it('writes a config that passes check-config once its box paths are read under the root', async () => {
      const mapped = join(dir, 'mapped-agent.yaml');
      writeFileSync(mapped, readFileSync(join(root, 'etc/speedwatch/agent.yaml'), 'utf8').replaceAll(' /var/lib/', ` ${root}/var/lib/`).replaceAll(' /etc/', ` ${root}/etc/`));
      const check = await runToEnd(process.execPath, [BIN.agent, 'check-config', mapped], 10_000);
      expect(check.stderr).toBe('');
      expect(check.code).toBe(0);
    });

    it('writes the unit (0644) running the node and the agent that ran install-service, as speedwatch', () => {
      const unit = join(root, 'etc/systemd/system/speedwatch-agent.service');
      expect(mode(unit)).toBe('0644');
      const lines = readFileSync(unit, 'utf8').split('\n');
      expect(lines).toContain(`ExecStartPre=${process.execPath} ${AGENT_BIN} check-config /etc/speedwatch/agent.yaml`);
      expect(lines).toContain(`ExecStart=${process.execPath} --no-opt --max-semi-space-size=1 ${AGENT_BIN} run --config /etc/speedwatch/agent.yaml`);
      expect(lines).toContain('User=speedwatch');
      expect(lines).toContain('ReadWritePaths=/var/lib/speedwatch');
    });

    it('writes a unit that systemd-analyze verify accepts without a warning', async (ctx) => {
      const why = systemdAnalyzeUnavailable();
      if (why !== undefined) return ctx.skip(why);
      // The unit's ExecStart names this machine's node and agent, so verify finds both.
      const unit = join(root, 'etc/systemd/system/speedwatch-agent.service');
      const verify = await exec('systemd-analyze', ['verify', unit]).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, output: (err.stdout ?? '') + (err.stderr ?? '') }),
      );
      expect(verify).toEqual({ code: 0, output: '' });
      const security = await exec('systemd-analyze', ['security', '--offline=true', unit]);
      const overall = /Overall exposure level for \S+: .*/.exec(security.stdout)?.[0];
      console.log(`systemd-analyze security --offline=true: ${overall ?? '(no overall line)'}`);
      expect(overall).toMatch(/: \d+\.\d+ (OK|SAFE)/);
    });

    it('refuses to enroll over the config it wrote without --force, before using a new code', async () => {
      const again = collectorCli('agents', 'enroll', 'ubnd-cao-loc', '--db', db);
      const before = readFileSync(join(root, 'var/lib/speedwatch/token'), 'utf8');
      const run = await installService('--code', again, '--root', root, '--no-start');
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('looks enrolled already. Give --force');
      expect(run.stderr).toContain('[SW_ENROLL_FAILED]');
      expect(readFileSync(join(root, 'var/lib/speedwatch/token'), 'utf8')).toBe(before);
      expect(codeUsed('ubnd-cao-loc')).toBe(false);
    });
  });

  describe('as root on a box without systemd (a private mount namespace over /etc, /var/lib and /var/log)', () => {
    const out = join(dir, 'box');
    const read = (name: string): string => readFileSync(join(out, name), 'utf8');
    let why: string | undefined;

    beforeAll(async () => {
      why = process.getuid?.() !== 0 ? 'needs root (unshare --mount, useradd)' : undefined;
      if (why === undefined) {
        try {
          execFileSync('unshare', ['--mount', '--pid', '--fork', 'true'], { stdio: 'ignore' });
        } catch {
          why = 'unshare --mount --pid cannot run here';
        }
      }
      if (why !== undefined) {
        if (process.env['CI'] === 'true') throw new Error(`the install as root cannot run under CI: ${why}`);
        console.warn(`install-service as root in a mount namespace SKIPPED: ${why}`);
        return;
      }
      mkdirSync(join(out, 'etc'), { recursive: true });
      const boxCode = collectorCli('agents', 'add', '--db', db, '--id', 'thpt-cao-loc', '--name', 'THPT Cao Lộc', '--site-kind', 'school', '--technology', 'fixed', '--enroll');
      // This machine's /etc, /var/lib and /var/log stay as they are: the namespace sees a copy of
      // /etc and empty ones of the others, and (where systemd runs) an empty /run/systemd, so
      // install-service finds no systemd and systemctl cannot reach this machine's. The daemon
      // then runs as the user the unit names, with what install-service wrote, until its first test.
      const script = [
        'set -e',
        'cp -a /etc/. "$OUT/etc/"',
        'mount --bind "$OUT/etc" /etc',
        'mount -t tmpfs -o mode=0755 tmpfs /var/lib',
        'mount -t tmpfs -o mode=0755 tmpfs /var/log',
        'if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi',
        // The checkout may live where the unit's ProtectHome/PrivateTmp would hide it (a clone in
        // /tmp, as CI's may be): install-service refuses such paths, so the box sees it at /mnt.
        'mount -t tmpfs -o mode=0755 tmpfs /mnt',
        'mkdir /mnt/speedwatch',
        'mount --bind "$REPO" /mnt/speedwatch',
        'set +e',
        '"$NODE" "$AGENT" install-service --collector "$COLLECTOR" --code "$CODE" >"$OUT/install.out" 2>"$OUT/install.err"; echo $? >"$OUT/install.rc"',
        'getent passwd speedwatch >"$OUT/passwd"',
        "stat -c '%n %U:%G %a' /etc/speedwatch /etc/speedwatch/agent.yaml /etc/systemd/system/speedwatch-agent.service /var/lib/speedwatch /var/lib/speedwatch/token >\"$OUT/stat\"",
        // setpriv execs the daemon itself (runuser would stay as its parent), so $! is the daemon.
        'setpriv --reuid=speedwatch --regid=speedwatch --init-groups -- "$NODE" "$AGENT" run --config /etc/speedwatch/agent.yaml 2>"$OUT/daemon.log" &',
        'daemon=$!',
        '"$NODE" "$AGENT" first-test --data-dir /var/lib/speedwatch --timeout 60s >"$OUT/first.out" 2>"$OUT/first.err"; echo $? >"$OUT/first.rc"',
        'kill -TERM $daemon; wait $daemon; echo $? >"$OUT/daemon.rc"',
      ].join('\n');
      // --pid: whatever the script leaves running dies with it.
      const run = await runToEnd('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', script], 120_000, {
        ...process.env,
        OUT: out,
        NODE: process.execPath,
        REPO: REPO,
        AGENT: BOX_AGENT_BIN,
        COLLECTOR: agentsWs,
        CODE: boxCode,
      });
      if (run.code !== 0) throw new Error(`the namespace script exited ${run.code}: ${run.stderr}`);
    }, 150_000);

    it('creates the service user: a system user with no login shell, its home the data dir', (ctx) => {
      if (why !== undefined) return ctx.skip(why);
      expect(read('install.err')).toBe('');
      expect(read('install.rc').trim()).toBe('0');
      expect(read('install.out')).toMatch(/^User speedwatch: created \(system user, uid \d+, no home, no login shell\)\.$/m);
      const [name, , uid, , , home, shell] = read('passwd').trim().split(':');
      expect({ name, home, shell }).toEqual({ name: 'speedwatch', home: '/var/lib/speedwatch', shell: '/usr/sbin/nologin' });
      expect(Number(uid)).toBeLessThan(1000);
    });

    it('gives the data dir and the token to the user, and lets its group read the config', (ctx) => {
      if (why !== undefined) return ctx.skip(why);
      expect(read('stat').trim().split('\n')).toEqual([
        '/etc/speedwatch root:root 755',
        '/etc/speedwatch/agent.yaml root:speedwatch 640',
        '/etc/systemd/system/speedwatch-agent.service root:root 644',
        '/var/lib/speedwatch speedwatch:speedwatch 750',
        '/var/lib/speedwatch/token speedwatch:speedwatch 600',
      ]);
    });

    it('finds no systemd, says so and how to start the daemon, and exits 0 with the files written', (ctx) => {
      if (why !== undefined) return ctx.skip(why);
      const said = read('install.out');
      expect(said).toContain('Not started (systemd does not run this machine (no /run/systemd/system)).');
      expect(said).toContain('systemctl daemon-reload && systemctl enable --now speedwatch-agent.service');
      expect(said).toContain(`runuser -u speedwatch -- ${process.execPath} ${BOX_AGENT_BIN} run --config /etc/speedwatch/agent.yaml`);
    });

    it('leaves a box whose daemon, run as the user, tests at once; first-test prints it with its verdict', (ctx) => {
      if (why !== undefined) return ctx.skip(why);
      expect(read('first.rc').trim(), `${read('first.err')}\n${read('daemon.log')}`).toBe('0');
      expect(read('first.out')).toMatch(/Verdict +(MEETS|BELOW) the download target 102 Mbps for fixed broadband/);
      expect(read('first.out')).toMatch(/Status +ok/);
      // SIGTERM, as systemd stops it: the daemon exits 0.
      expect(read('daemon.rc').trim()).toBe('0');
    });
  });
});
