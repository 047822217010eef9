/** The sandbox container's HostConfig (DKR-1..7). Pure function: no Docker needed, nothing faked. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContainerSpec, buildHostConfig, SANDBOX_UID, SUPERVISOR_UID } from '../../runner/backends/docker-config.ts';

// Docker's defaults (what the engine fills in for a create request without them).
const DOCKER_MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];
const DOCKER_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const limits = { memoryMb: 256, cpus: 1, pidsLimit: 128, nofile: 256, scratchMb: 64, outMb: 16 };

describe('buildHostConfig', () => {
  const hc = buildHostConfig(limits);
  test('no network, read-only root, only the supervisor\'s start-up capabilities, no-new-privileges, never privileged', () => {
    assert.equal(hc.NetworkMode, 'none');
    assert.equal(hc.ReadonlyRootfs, true);
    assert.deepEqual(hc.CapDrop, ['ALL']);
    // The supervisor's own (it drops them before anything of the task runs; the program has none).
    assert.deepEqual([...(hc.CapAdd ?? [])].sort(), ['KILL', 'SETGID', 'SETPCAP', 'SETUID']);
    assert.deepEqual(hc.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(hc.Privileged, false);
    assert.equal(hc.Init, true);
  });
  test('default seccomp: nothing unconfined, no systempaths or userns opt-outs', () => {
    const text = JSON.stringify(hc);
    assert.doesNotMatch(text, /unconfined/);
    assert.equal(hc.UsernsMode, undefined);
    assert.equal(hc.PidMode, undefined);
    assert.equal(hc.IpcMode, 'private');
  });
  test('Docker\'s masked and read-only paths are kept; /proc, /dev, /dev/pts and /sys/fs/cgroup are read-only too', () => {
    for (const p of DOCKER_MASKED) assert.ok(hc.MaskedPaths?.includes(p), `masks ${p}`);
    for (const p of DOCKER_READONLY) assert.ok(hc.ReadonlyPaths?.includes(p), `read-only ${p}`);
    const ro = hc.ReadonlyPaths ?? [];
    for (const p of ['/proc', '/dev', '/dev/pts', '/sys/fs/cgroup']) assert.ok(ro.includes(p), `read-only ${p}`);
    // A read-only bind of /dev carries the rw devpts below it along: /dev/pts must come after.
    assert.ok(ro.indexOf('/dev/pts') > ro.indexOf('/dev'));
  });
  test('memory and swap are equal (no swap), pids, cpu and nofile are capped', () => {
    assert.equal(hc.Memory, 256 * 1024 * 1024);
    assert.equal(hc.MemorySwap, hc.Memory);
    assert.equal(hc.PidsLimit, 128);
    assert.equal(hc.NanoCpus, 1e9);
    assert.deepEqual(hc.Ulimits, [{ Name: 'nofile', Soft: 256, Hard: 256 }]);
  });
  test('scratch is size-capped tmpfs owned by the sandbox user, noexec/nosuid/nodev', () => {
    for (const [path, size] of [['/tmp', 64], ['/work', 64], ['/out', 16]] as const) {
      const opts = hc.Tmpfs?.[path] ?? '';
      for (const o of ['noexec', 'nosuid', 'nodev', `size=${size}m`, `uid=${SANDBOX_UID}`, `gid=${SANDBOX_UID}`]) {
        assert.ok(opts.split(',').includes(o), `${path} has ${o}: ${opts}`);
      }
    }
  });
  test('the capability socket directory is a tiny tmpfs of the supervisor, not writable by the program', () => {
    const opts = (hc.Tmpfs?.['/run/airlock'] ?? '').split(',');
    for (const o of ['noexec', 'nosuid', 'nodev', 'size=16k', `uid=${SUPERVISOR_UID}`, `gid=${SUPERVISOR_UID}`, 'mode=0755']) {
      assert.ok(opts.includes(o), `/run/airlock has ${o}: ${opts.join(',')}`);
    }
    assert.notEqual(SUPERVISOR_UID, SANDBOX_UID);
  });
  test('the runner\'s capability socket directory replaces that tmpfs, mounted read-only, after the grants', () => {
    const withSocket = buildHostConfig(limits, [{ source: '/srv/a', target: '/mnt/a', readOnly: false }], '/var/lib/airlock/calls/0123/abcd');
    assert.equal(withSocket.Tmpfs?.['/run/airlock'], undefined);
    assert.deepEqual(withSocket.Mounts, [
      { Type: 'bind', Source: '/srv/a', Target: '/mnt/a', ReadOnly: false },
      { Type: 'bind', Source: '/var/lib/airlock/calls/0123/abcd', Target: '/run/airlock', ReadOnly: true },
    ]);
    // Everything else stays as it was.
    const { Tmpfs: a, Mounts: _m1, ...restA } = withSocket;
    const { Tmpfs: b, Mounts: _m2, ...restB } = buildHostConfig(limits);
    assert.deepEqual(restA, restB);
    assert.deepEqual({ ...a, '/run/airlock': b?.['/run/airlock'] }, b);
  });
  test('no Docker socket, no binds unless asked, no host log files', () => {
    assert.deepEqual(hc.Mounts, []);
    assert.equal(hc.Binds, undefined);
    assert.equal(hc.LogConfig?.Type, 'none');
    assert.throws(() => buildHostConfig(limits, [{ source: '/var/run/docker.sock', target: '/x', readOnly: true }]), /refusing/);
  });
  test('grant mounts keep their mode', () => {
    const m = buildHostConfig(limits, [
      { source: '/srv/a', target: '/mnt/a', readOnly: true },
      { source: '/srv/b', target: '/mnt/b', readOnly: false },
    ]).Mounts;
    assert.deepEqual(m, [
      { Type: 'bind', Source: '/srv/a', Target: '/mnt/a', ReadOnly: true },
      { Type: 'bind', Source: '/srv/b', Target: '/mnt/b', ReadOnly: false },
    ]);
  });
});

describe('buildContainerSpec', () => {
  test('root for the supervisor\'s start-up, empty environment, labelled with runner and installation', () => {
    const spec = buildContainerSpec({
      image: 'img',
      cmd: ['x'],
      runnerId: 'r1',
      installationId: 'i1',
      hostConfig: buildHostConfig(limits),
      labels: { 'airlock.runner': 'forged', 'airlock.installation': 'forged', 'airlock.pool': '1' },
    });
    assert.equal(spec.User, '0:0');
    assert.deepEqual(spec.Env, []);
    assert.equal(spec.NetworkDisabled, true);
    assert.deepEqual(spec.Labels, {
      'airlock.managed': '1',
      'airlock.runner': 'r1',
      'airlock.installation': 'i1',
      'airlock.pool': '1',
    });
  });
});
