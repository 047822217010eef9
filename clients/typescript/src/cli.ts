#!/usr/bin/env node
/**
 * `airlock`: the command line of the SDK. Exit codes follow the task: 0 succeeded, 1 failed,
 * 124 timed out, 130 cancelled; 2 for a usage error; 3 when Airlock answered with a problem
 * (printed on stderr with its code).
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Airlock, TERMINAL_STATUSES, type Runtime, type Task } from './client.js';
import { AirlockError } from './errors.js';

const USAGE = `usage: airlock <command> [options]

  run <file|->                 run code (runtime from the extension, or --runtime), output live
      --runtime R              javascript | typescript | python | node | bash
      --timeout-ms N --memory-mb N --json
      --capability NAME        a capability the code may call (repeat for more)
  tasks ls [--status S] [--limit N] [--json]
  tasks get <id>               the task as JSON
  tasks logs <id> [-f]         its output (-f: follow until it ends)
  tasks cancel <id>
  tasks trace <id> [--proofs]  its audit trail as JSON
  approvals ls [--status S]    approval requests (approver or admin users)
  approvals approve|deny <id> [--reason TEXT]
  audit verify                 re-walk the tenant's audit log on the server
  mcp config [--stdio]         the JSON an MCP client needs: this Airlock's /mcp endpoint, or
                               (--stdio) the local stdio server \`npx airlock-mcp\`

Environment: AIRLOCK_API_KEY (required), AIRLOCK_URL (default http://127.0.0.1:8080).
Exit codes: 0 succeeded, 1 failed, 124 timed out, 130 cancelled, 2 usage, 3 refused by Airlock.`;

const EXIT: Record<string, number> = { succeeded: 0, failed: 1, timed_out: 124, cancelled: 130 };
const BY_EXTENSION: Record<string, Runtime> = {
  '.js': 'javascript', '.mjs': 'javascript', '.ts': 'typescript', '.py': 'python', '.cjs': 'node', '.sh': 'bash',
};

class UsageError extends Error {}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function decode(data: string, encoding: string | undefined): Uint8Array | string {
  return encoding === 'base64' ? Buffer.from(data, 'base64') : data;
}

/** Writes the task's output events as they come; returns the status it ended with. */
async function follow(airlock: Airlock, id: string): Promise<string> {
  let status = '';
  for await (const event of airlock.tasks.events(id)) {
    if (event.event === 'output') {
      const o = JSON.parse(event.data) as { stream: 'stdout' | 'stderr'; data: string; encoding?: string };
      (o.stream === 'stderr' ? process.stderr : process.stdout).write(decode(o.data, o.encoding));
    } else if (event.event === 'status') {
      status = (JSON.parse(event.data) as { status: string }).status;
    } else if (event.event === 'approval_requested') {
      // Said on stderr so stdout stays the program's: who must do what for the task to go on.
      const a = JSON.parse(event.data) as { approvalId: string; capability: string; deadline: string };
      process.stderr.write(
        `airlock: waiting for approval ${a.approvalId} of ${a.capability} (until ${a.deadline}); ` +
          `an approver runs: airlock approvals approve ${a.approvalId}\n`,
      );
    }
  }
  return status;
}

async function readCode(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function summary(task: Task): string {
  const error = (task as { error?: { code: string; message: string } }).error;
  return `task ${task.id} ${task.status}${error ? `: ${error.code}: ${error.message}` : ''}`;
}

async function run(airlock: Airlock, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      runtime: { type: 'string' }, 'timeout-ms': { type: 'string' }, 'memory-mb': { type: 'string' }, json: { type: 'boolean' },
      capability: { type: 'string', multiple: true },
    },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('run takes one file, or - for standard input');
  const runtime = (values.runtime ?? BY_EXTENSION[extname(file)]) as Runtime | undefined;
  if (!runtime) throw new UsageError(`cannot tell the runtime of ${file}: pass --runtime`);
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer`);
    return n;
  };
  const timeoutMs = number('timeout-ms', values['timeout-ms']);
  const memoryMb = number('memory-mb', values['memory-mb']);
  const body = {
    runtime, code: await readCode(file), ...(timeoutMs ? { timeoutMs } : {}), ...(memoryMb ? { memoryMb } : {}),
    ...(values.capability?.length ? { capabilities: values.capability } : {}),
  };
  if (values.json) {
    const task = await airlock.run(body.code, body);
    print(task);
    return EXIT[task.status] ?? 1;
  }
  const created = await airlock.tasks.create(body);
  // Ctrl-C cancels the task (and the exit code says so once it has stopped).
  const onSigint = () => void airlock.tasks.cancel(created.id).catch(() => {});
  process.once('SIGINT', onSigint);
  try {
    const status = TERMINAL_STATUSES.has(created.status) ? created.status : await follow(airlock, created.id);
    const task = await airlock.tasks.get(created.id);
    if (task.status !== 'succeeded') process.stderr.write(`${summary(task)}\n`);
    return EXIT[status || task.status] ?? 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

async function tasks(airlock: Airlock, [sub, ...args]: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
      follow: { type: 'boolean', short: 'f' }, proofs: { type: 'boolean' },
    },
  });
  const id = positionals[0];
  const needId = () => {
    if (!id) throw new UsageError(`tasks ${sub} needs a task id`);
    return id;
  };
  switch (sub) {
    case 'ls': {
      const list = await airlock.tasks.list({
        ...(values.status ? { status: values.status as never } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
      });
      if (values.json) print(list);
      else for (const t of list.items) process.stdout.write(`${t.id}  ${t.status.padEnd(10)}  ${t.runtime.padEnd(10)}  ${t.createdAt}\n`);
      return 0;
    }
    case 'get':
      print(await airlock.tasks.get(needId()));
      return 0;
    case 'logs': {
      const taskId = needId();
      if (values.follow) {
        const status = await follow(airlock, taskId);
        return EXIT[status] ?? 0;
      }
      const task = await airlock.tasks.get(taskId);
      const result = (task as { result?: { stdout: string; stderr: string; stdoutEncoding?: string; stderrEncoding?: string } }).result;
      if (result) {
        process.stdout.write(decode(result.stdout, result.stdoutEncoding));
        process.stderr.write(decode(result.stderr, result.stderrEncoding));
      }
      return 0;
    }
    case 'cancel':
      process.stdout.write(`${summary(await airlock.tasks.cancel(needId()))}\n`);
      return 0;
    case 'trace':
      print(await airlock.tasks.trace(needId(), { proofs: values.proofs ?? false }));
      return 0;
    default:
      throw new UsageError(`unknown tasks command ${sub ?? '(none)'}`);
  }
}

async function approvals(airlock: Airlock, [sub, ...args]: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { status: { type: 'string' }, reason: { type: 'string' } },
  });
  switch (sub) {
    case 'ls':
      print(await airlock.approvals.list({ status: (values.status ?? 'pending') as never }));
      return 0;
    case 'approve':
    case 'deny': {
      const id = positionals[0];
      if (!id) throw new UsageError(`approvals ${sub} needs an approval id`);
      const body = values.reason ? { reason: values.reason } : {};
      print(await airlock.approvals[sub](id, body));
      return 0;
    }
    default:
      throw new UsageError(`unknown approvals command ${sub ?? '(none)'}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === 'mcp' && rest[0] === 'config') {
    // What an MCP client's configuration (`mcpServers`) needs: Airlock's streamable HTTP
    // endpoint, or the stdio server (`npx airlock-mcp`), with an API key (never printed).
    const { values } = parseArgs({ args: rest.slice(1), options: { stdio: { type: 'boolean' } } });
    const url = (process.env['AIRLOCK_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    print({
      mcpServers: {
        airlock: values.stdio
          ? { command: 'npx', args: ['airlock-mcp'], env: { AIRLOCK_URL: url, AIRLOCK_API_KEY: '<your API key>' } }
          : { type: 'http', url: `${url}/mcp`, headers: { Authorization: 'Bearer <your API key>' } },
      },
    });
    return 0;
  }
  const airlock = new Airlock();
  switch (command) {
    case 'run':
      return run(airlock, rest);
    case 'tasks':
      return tasks(airlock, rest);
    case 'approvals':
      return approvals(airlock, rest);
    case 'audit':
      if (rest[0] !== 'verify') throw new UsageError('audit takes: verify');
      {
        const result = await airlock.audit.verify();
        print(result);
        return result.ok ? 0 : 1;
      }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

// Run when executed (not when imported by tests).
// (argv[1] may be npm's bin symlink: compare real paths.)
/**
 * Exits once what was written has left: a write to a pipe can still be queued, and
 * `process.exit` would cut it (`airlock tasks ls --json | jq` lost the end of a long list).
 */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => exitAfterFlush(code),
    (err: unknown) => {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`airlock: ${(err as Error).message}\n\n${USAGE}\n`);
        exitAfterFlush(2);
        return;
      }
      if (err instanceof TypeError && /AIRLOCK_API_KEY/.test(err.message)) {
        process.stderr.write(`airlock: ${err.message}\n`);
        exitAfterFlush(2);
        return;
      }
      process.stderr.write(`airlock: ${err instanceof AirlockError ? `${err.message}` : String(err)}\n`);
      exitAfterFlush(3);
    },
  );
}
