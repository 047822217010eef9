// The output of `npm start` (and of the set-up it runs): one line per record, pretty-printed for
// a terminal, JSON (pino's shape: `level`, `time`, `msg`, plus `proc`) otherwise, so a file or a
// log collector gets parseable lines. AIRLOCK_LOG_FORMAT=pretty|json overrides the choice.
// Child processes' lines go through `line()`: the harness writes pino JSON, the runner and the
// install scripts plain text.

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const NAMES = Object.fromEntries(Object.entries(LEVELS).map(([k, v]) => [v, k.toUpperCase()]));
const COLORS = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** `pretty` or `json`: AIRLOCK_LOG_FORMAT, else pretty on a terminal. */
export function logFormat(stream = process.stdout) {
  const asked = process.env.AIRLOCK_LOG_FORMAT;
  if (asked === 'pretty' || asked === 'json') return asked;
  return stream.isTTY ? 'pretty' : 'json';
}

export function createLog({ format = logFormat(), out = process.stdout, proc = 'airlock' } = {}) {
  const color = format === 'pretty' && out.isTTY === true;
  /** Request line of each request in flight (pretty mode merges it into the completion line). */
  const requests = new Map();

  const write = (record) => {
    if (format === 'json') {
      out.write(`${JSON.stringify(record)}\n`);
      return;
    }
    const time = new Date(record.time).toTimeString().slice(0, 8);
    const level = NAMES[record.level] ?? String(record.level);
    const paint = color ? (COLORS[record.level] ?? '') : '';
    const extra = Object.entries(record)
      .filter(([k]) => !['level', 'time', 'msg', 'proc', 'pid', 'hostname'].includes(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const head = `${color ? DIM : ''}${time}${color ? RESET : ''} ${record.proc.padEnd(7)} ${paint}${level.padEnd(5)}${paint ? RESET : ''}`;
    out.write(`${head} ${record.msg}${extra ? ` ${color ? DIM : ''}${extra}${color ? RESET : ''}` : ''}\n`);
  };

  const record = (level, msg, fields = {}, from = proc) => write({ level, time: Date.now(), proc: from, msg, ...fields });

  /** The pretty form of a pino line of the harness (requests on one line each). */
  const fromPino = (from, rec) => {
    const { level = 30, time = Date.now(), msg = '', reqId, req, res, responseTime, err, ...rest } = rec;
    // Every line of one process has the same pid and host name: noise here.
    delete rest.pid;
    delete rest.hostname;
    if (format === 'json') return write({ level, time, proc: from, msg, ...(reqId ? { reqId } : {}), ...(req ? { req } : {}), ...(res ? { res } : {}), ...(responseTime !== undefined ? { responseTime } : {}), ...(err ? { err } : {}), ...rest });
    if (msg === 'incoming request' && req && reqId) {
      requests.set(reqId, `${req.method} ${req.url}`);
      if (requests.size > 10_000) requests.delete(requests.keys().next().value);
      return;
    }
    if (msg === 'request completed' && reqId) {
      const what = requests.get(reqId) ?? '';
      requests.delete(reqId);
      const ms = typeof responseTime === 'number' ? ` ${Math.round(responseTime)} ms` : '';
      return write({ level, time, proc: from, msg: `${what} → ${res?.statusCode ?? '?'}${ms}`, ...rest });
    }
    const detail = err ? { err: err.stack ?? err.message ?? err } : {};
    return write({ level, time, proc: from, msg, ...detail, ...rest });
  };

  return {
    format,
    info: (msg, fields) => record(LEVELS.info, msg, fields),
    warn: (msg, fields) => record(LEVELS.warn, msg, fields),
    error: (msg, fields) => record(LEVELS.error, msg, fields),
    /** A line a child process wrote: pino JSON, or text (`WARNING:`/`ERROR` lines raise the level). */
    line(from, raw) {
      // Node's hint after a process warning: noise in a log.
      if (raw.trim() === '' || raw.startsWith('(Use `node --trace-warnings')) return;
      if (raw.startsWith('{')) {
        try {
          const rec = JSON.parse(raw);
          if (typeof rec === 'object' && rec !== null && typeof rec.level === 'number') return fromPino(from, rec);
        } catch {
          // Not JSON after all: a text line.
        }
      }
      // The runner prefixes its own lines with `[runner <id>]`; the process name says that already.
      const text = raw.replace(/^\[runner [^\]]*\] /, '');
      const level = /^WARNING\b|\bWarning:/i.test(text) ? LEVELS.warn : /\b(ERROR|Error:|failed)\b/.test(text) ? LEVELS.error : LEVELS.info;
      return record(level, text, {}, from);
    },
    /**
     * A block for people (the banner): the text as is on a terminal; in JSON one record with the
     * message and the fields, the text lines under `text`.
     */
    block(msg, lines, fields = {}) {
      if (format === 'json') return write({ level: LEVELS.info, time: Date.now(), proc, msg, ...fields, text: lines });
      out.write(`\n${lines.join('\n')}\n\n`);
    },
  };
}

/** Splits a stream into lines and hands each to `onLine` (the last partial line at the end). */
export function eachLine(stream, onLine) {
  stream.setEncoding('utf8');
  let buf = '';
  stream.on('data', (chunk) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}
