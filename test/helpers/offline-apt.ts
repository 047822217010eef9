/**
 * A local apt repository for a container without network: exactly the .deb files an image needs
 * to `apt-get install` some packages, and a `Packages` index of them, in a directory to mount
 * and name in sources.list as `deb [trusted=yes] file:<dir> ./`.
 *
 * What to put in it is asked from the host's apt, simulating the install against the image's
 * own dpkg status (`apt-get install -s -o Dir::State::status=…`), so it is exactly what apt in
 * the image will want. The .deb files come from the host's apt cache (/var/cache/apt/archives),
 * else from DEB_CACHE, else they are downloaded there once with `apt-get download` — the only
 * step that may reach the Debian mirror, run on the host (never in the container), and only
 * while a needed version is in neither cache. Nothing here runs apt as an installer on the host.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Where downloaded .debs are kept between runs (so the mirror is asked at most once). */
export const DEB_CACHE = '/var/cache/airlock-tests/debs';
const APT_CACHE = '/var/cache/apt/archives';

/** `apt-get install -s` against `statusFile`: the packages (name, version) it would install. */
async function wanted(statusFile: string, packages: readonly string[]): Promise<{ name: string; version: string }[]> {
  const { stdout } = await run('apt-get', ['install', '-s', '-o', `Dir::State::status=${statusFile}`, ...packages], {
    env: { ...process.env, LC_ALL: 'C' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return [...stdout.matchAll(/^Inst (\S+) \((\S+) /gm)].map((m) => ({ name: m[1] as string, version: m[2] as string }));
}

/** The .deb of `name` at `version` in the apt cache or DEB_CACHE, downloaded into DEB_CACHE if in neither. */
async function debFile(name: string, version: string): Promise<string> {
  const prefix = `${name}_${version.replace(':', '%3a')}_`;
  for (const dir of [APT_CACHE, DEB_CACHE]) {
    const hit = (await readdir(dir).catch(() => [] as string[])).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
    if (hit) return path.join(dir, hit);
  }
  await mkdir(DEB_CACHE, { recursive: true });
  await run('apt-get', ['download', '-q', `${name}=${version}`], { cwd: DEB_CACHE });
  const got = (await readdir(DEB_CACHE)).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  if (!got) throw new Error(`apt-get download ${name}=${version} left no .deb in ${DEB_CACHE}`);
  return path.join(DEB_CACHE, got);
}

/**
 * Fills `repoDir` with the .debs that installing `packages` on a system with dpkg status
 * `statusFile` needs, and their `Packages` index. Returns the package names.
 */
export async function buildOfflineRepo(repoDir: string, statusFile: string, packages: readonly string[]): Promise<string[]> {
  await mkdir(repoDir, { recursive: true });
  const needed = await wanted(statusFile, packages);
  if (needed.length === 0) throw new Error(`apt would install nothing for ${packages.join(' ')}: is it in the image already?`);
  const stanzas: string[] = [];
  for (const { name, version } of needed) {
    const source = await debFile(name, version);
    const file = path.basename(source);
    await copyFile(source, path.join(repoDir, file));
    const { stdout: control } = await run('dpkg-deb', ['-f', source]);
    const bytes = await readFile(source);
    stanzas.push(
      `${control.trimEnd()}\nFilename: ./${file}\nSize: ${(await stat(source)).size}\n` +
        `SHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`,
    );
  }
  await writeFile(path.join(repoDir, 'Packages'), `${stanzas.join('\n')}`);
  return needed.map((n) => n.name);
}
