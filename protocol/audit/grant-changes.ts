/**
 * The grant changes a task applied, as its terminal audit entry records them: each change's
 * grant, path, kind and sha256 — as many as fit a bounded share of an entry (entries are at most
 * 16 KiB) — plus the count and the SHA-256 of the whole list (canonical JSON), so a long list is
 * still pinned down by the log and can be checked against the task's result.
 */
import type { FileChange } from '../task.ts';
import { toHex } from './bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import { sha256 } from './sha256.ts';

/** Bytes of JSON the listed changes may take in one entry. */
const LISTED_BYTES = 8 * 1024;

export interface GrantChangesDetail {
  grantChanges: { grant: string; path: string; change: string; sha256?: string }[];
  grantChangeCount: number;
  /** SHA-256 (hex) of the canonical JSON of every change, in the result's order. */
  grantChangesSha256: string;
}

export function grantChangesDetail(changes: readonly FileChange[]): GrantChangesDetail {
  const listed: GrantChangesDetail['grantChanges'] = [];
  let bytes = 0;
  for (const c of changes) {
    const item = { grant: c.grant, path: c.path, change: c.change, ...(c.sha256 ? { sha256: c.sha256 } : {}) };
    bytes += JSON.stringify(item).length + 1;
    if (bytes > LISTED_BYTES) break;
    listed.push(item);
  }
  return {
    grantChanges: listed,
    grantChangeCount: changes.length,
    grantChangesSha256: toHex(sha256(canonicalBytes(changes))),
  };
}
