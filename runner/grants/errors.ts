/**
 * The one error type of the grant filesystem layer. Its `code` is stable so callers (the isolate
 * `fs` global, the staging pipeline, the job processor) can branch on it and map it to a task
 * error without parsing messages.
 *
 * Messages name paths *relative to the grant* only. They may reach the sandboxed code, which must
 * not learn where a grant lives on the host.
 */
export type GrantPathErrorCode =
  /** Not a usable relative path: empty, `.` or empty segments, NUL/control characters, too long. */
  | 'path_invalid'
  /** The path would leave the grant: `..`, an absolute path, or a symlink on the way. */
  | 'path_escape'
  /** Nothing at that path. */
  | 'not_found'
  /** A component that must be a directory is something else. */
  | 'not_a_directory'
  /** A file operation named a directory. */
  | 'is_a_directory'
  /** A file is bigger than the caller allows. */
  | 'too_large'
  /** Writing would take the grant past its byte cap. */
  | 'quota_exceeded'
  /** A symlink, hard link (nlink > 1), device, FIFO or socket where only plain files and dirs may be. */
  | 'special_file'
  /** The tree changed under us between two steps (staged content no longer matches a change list, a
   * directory was swapped while we held it). Nothing unsafe happened; the operation was stopped. */
  | 'conflict';

export class GrantPathError extends Error {
  override readonly name = 'GrantPathError';
  constructor(
    readonly code: GrantPathErrorCode,
    /** The offending path relative to the grant root (`''` for the root itself). */
    readonly path: string,
    message?: string,
  ) {
    super(
      `${code}: ${path === '' ? '(grant root)' : JSON.stringify(path)}${message ? `: ${message}` : ''}`,
    );
  }
}

/** Node's errno code of a failed fs call, if any. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
