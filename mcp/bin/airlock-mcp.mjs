#!/usr/bin/env node
// `npx airlock-mcp` (in this repository: the root package's bin) or, in another project after
// `npm install /path/to/airlock/mcp`, `npx airlock-mcp`: Airlock's MCP server on stdio
// (mcp/stdio.ts, run through tsx: no build step). Key from AIRLOCK_API_KEY, server from
// AIRLOCK_URL; nothing but MCP messages on stdout.
import { register } from 'tsx/esm/api';

register();
await import('../stdio.ts');
