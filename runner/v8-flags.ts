/**
 * V8 flags the runner sets on itself, before anything runs hot. Imported first by the runner's
 * entry (worker.ts), so every way of starting it gets them without a command-line flag to forget.
 *
 * `--no-turbo-inline-js-wasm-calls`: the runner's broker client speaks through undici, whose
 * HTTP parser is WebAssembly (llhttp). On Node 20 (V8 11.3), TurboFan's inlining of JS→Wasm calls
 * killed the harness under sustained load with a V8 fatal in a lazy deopt (harness/README.md, "Why
 * the harness runs with --no-turbo-inline-js-wasm-calls"). The runner never showed it, but it had
 * no WebAssembly on a hot path until then; it gets the harness's proven setting. Set at run time,
 * it takes effect like the command-line flag (TurboFan reads it when it compiles): a loop of
 * JS→Wasm calls measured 75 ms as is, 117 ms with the flag either way.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');
