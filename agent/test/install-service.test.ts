/**
 * install-service's parts that need no collector: the unit made from the shipped one, the Node
 * version check, and the refusals that come before anything is written. The whole command
 * against a real collector is test/install-service.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpeedwatchError } from '@speedwatch/shared';
import { installService, nodeSatisfies } from '../src/install/install-service.js';
import type { InstallHost, InstallServiceOptions } from '../src/install/install-service.js';
import { renderAgentUnit, SHIPPED_UNIT, systemdExecArg } from '../src/install/systemd-unit.js';

const SHIPPED = readFileSync(new URL('../deploy/systemd/speedwatch-agent.service', import.meta.url), 'utf8');

/** The value of each `Key=` line of the [Service] section. */
function serviceKeys(unit: string): Map<string, string> {
  const section = unit.slice(unit.indexOf('[Service]'), unit.indexOf('[Install]'));
  return new Map(section.split('\n').flatMap((line) => (/^[A-Za-z]+=/.test(line) ? [[line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]] : [])));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SpeedwatchError) return err.code;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('the agent systemd unit', () => {
  describe('the shipped file', () => {
    it('is its own template: filled with the node, agent and user it names, it comes back unchanged', () => {
      expect(renderAgentUnit(SHIPPED, SHIPPED_UNIT)).toBe(SHIPPED);
    });

    it.each([
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ReadWritePaths', '/var/lib/speedwatch'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['ProtectControlGroups', 'yes'],
      ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
      ['RestrictNamespaces', 'yes'],
      ['LockPersonality', 'yes'],
      ['SystemCallArchitectures', 'native'],
      ['CapabilityBoundingSet', ''],
      ['UMask', '0027'],
      ['StateDirectory', 'speedwatch'],
      ['StateDirectoryMode', '0750'],
    ])('sets %s=%s', (key, value) => {
      expect(serviceKeys(SHIPPED).get(key)).toBe(value);
    });

    it('leaves MemoryDenyWriteExecute off, with the reason beside it (V8 makes the code it compiles executable)', () => {
      expect(serviceKeys(SHIPPED).has('MemoryDenyWriteExecute')).toBe(false);
      expect(SHIPPED).toMatch(/^# No MemoryDenyWriteExecute=yes: V8 compiles/m);
    });
  });

  describe('renderAgentUnit', () => {
    const local = { nodePath: '/usr/local/bin/node', binPath: '/usr/local/lib/node_modules/@speedwatch/agent/bin/speedwatch-agent.js', user: 'swagent' };

    it('puts the node and the agent in ExecStartPre= and ExecStart=, the user in User= and Group=, and changes no other line', () => {
      const rendered = renderAgentUnit(SHIPPED, local).split('\n');
      const shipped = SHIPPED.split('\n');
      expect(rendered).toHaveLength(shipped.length);
      const changed = rendered.filter((line, i) => line !== shipped[i]);
      expect(changed).toEqual([
        'User=swagent',
        'Group=swagent',
        `ExecStartPre=/usr/local/bin/node ${local.binPath} check-config /etc/speedwatch/agent.yaml`,
        `ExecStart=/usr/local/bin/node --no-opt --max-semi-space-size=1 ${local.binPath} run --config /etc/speedwatch/agent.yaml`,
      ]);
    });

    it.each([
      ['an ExecStart= not starting with /usr/bin/node', (t: string) => t.replace('ExecStart=/usr/bin/node', 'ExecStart=/usr/bin/env node')],
      ['an ExecStartPre= without the agent', (t: string) => t.replace('/usr/bin/speedwatch-agent check-config', '/opt/agent check-config')],
      ['a second ExecStart=', (t: string) => t.replace('[Install]', 'ExecStart=/usr/bin/node /usr/bin/speedwatch-agent run\n[Install]')],
      ['no Group=', (t: string) => t.replace('Group=speedwatch\n', '')],
      ['another user', (t: string) => t.replace('User=speedwatch', 'User=nobody')],
    ])('refuses a template with %s (SW_INSTALL_FAILED), so the shipped unit and install-service cannot drift apart', (_what, mutate) => {
      expect(() => renderAgentUnit(mutate(SHIPPED), local)).toThrow(expect.objectContaining({ code: 'SW_INSTALL_FAILED' }) as Error);
    });
  });

  describe('systemdExecArg', () => {
    it.each([
      ['/usr/bin/node', '/usr/bin/node'],
      ['/opt/node 20/bin/node', '"/opt/node 20/bin/node"'],
      ['/opt/100%/node', '/opt/100%%/node'],
      ['/opt/$HOME/node', '/opt/$$HOME/node'],
      ['/opt/a"b\\c', '"/opt/a\\"b\\\\c"'],
    ])('writes %s as %s', (path, written) => {
      expect(systemdExecArg(path)).toBe(written);
    });
  });
});

describe('nodeSatisfies', () => {
  it.each([
    ['20.18.1', true],
    ['v20.18.1', true],
    ['20.20.2', true],
    ['22.0.0', true],
    ['20.18.0', false],
    ['20.9.9', false],
    ['18.20.4', false],
    ['not a version', false],
  ])('%s against >=20.18.1: %s', (version, ok) => {
    expect(nodeSatisfies(version, '>=20.18.1')).toBe(ok);
  });
});

describe('installService refusals, before anything is written or run', () => {
  const ran: string[] = [];
  const host = (uid: number): InstallHost => ({
    uid,
    systemdRunning: true,
    run: (command, args) => {
      ran.push([command, ...args].join(' '));
      return Promise.reject(new Error('nothing may run before the refusals'));
    },
    say: () => {},
  });
  // root is /, so a refusal that came too late would write to this machine: every case also has
  // a mistyped code, which enrollment's check refuses before any write.
  const options: InstallServiceOptions = {
    collectorUrl: 'ws://127.0.0.1:9/v1/agents',
    code: 'AAAA-AAAA-AAAA-AA',
    user: 'speedwatch',
    root: '/',
    start: true,
    force: false,
    unitTemplate: SHIPPED,
    nodePath: '/usr/bin/node',
    binPath: '/usr/lib/node_modules/@speedwatch/agent/bin/speedwatch-agent.js',
    nodeVersion: '20.20.2',
    nodeRange: '>=20.18.1',
  };

  it.each([
    ['Node older than engines.node', { nodeVersion: '20.11.0' }, 0, 'SW_INSTALL_NODE_VERSION'],
    ['a user other than root, without --root', {}, 1000, 'SW_INSTALL_NOT_ROOT'],
    ['node from nvm, under /root', { nodePath: '/root/.nvm/versions/node/v20.20.2/bin/node' }, 0, 'SW_INSTALL_PATH_HIDDEN'],
    ['the agent under /home', { binPath: '/home/pi/.npm-global/lib/node_modules/@speedwatch/agent/bin/speedwatch-agent.js' }, 0, 'SW_INSTALL_PATH_HIDDEN'],
    ['a mistyped code', {}, 0, 'SW_ENROLL_CODE_MISTYPED'],
  ])('refuses %s', async (_what, change, uid, code) => {
    ran.length = 0;
    expect(await codeOf(installService({ ...options, ...change }, host(uid)))).toBe(code);
    expect(ran).toEqual([]);
  });
});
