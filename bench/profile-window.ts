/**
 * Bench-only preload (`--import bench/profile-window.ts`): profiles a process over a window the
 * bench chooses instead of its whole life, so start-up and warm-up do not drown what a series
 * costs. The first SIGWINCH (ignored by default, and not one close-with-grace
 * takes for a shutdown, as it does SIGUSR2) starts V8's CPU profiler, the second stops it and writes
 * `<BENCH_PROFILE_WINDOW_DIR>/<BENCH_PROFILE_NAME>.cpuprofile` (Chrome DevTools format; read it
 * with `node --import tsx bench/prof-summary.ts <file>`). Inert without the directory.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env['BENCH_PROFILE_WINDOW_DIR'];
if (dir) {
  const name = process.env['BENCH_PROFILE_NAME'] ?? `pid-${process.pid}`;
  const session = new Session();
  session.connect();
  let profiling = false;
  process.on('SIGWINCH', () => {
    if (!profiling) {
      profiling = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')));
      return;
    }
    profiling = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) process.stderr.write(`profile window: ${err.message}\n`);
      else writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
