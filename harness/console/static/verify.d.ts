// Types of verify.js (a browser ES module served as is, no build step) for its unit test.
export declare class VerifyError extends Error {}
export declare function fromBase64(text: string): Uint8Array;
export declare function sha256(...parts: Uint8Array[]): Promise<Uint8Array>;
export interface BrowserVerifier {
  name: string;
  keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}
export declare function parseVerifierKey(text: string): Promise<BrowserVerifier>;
export declare function openCheckpoint(note: string, verifier: BrowserVerifier): Promise<{ origin: string; size: number; rootHash: Uint8Array }>;
export declare function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: Uint8Array[]): Promise<Uint8Array | null>;
export interface EntryVerdict {
  seq: number;
  ok: boolean;
  reason: string;
  entry: Record<string, unknown> | null;
}
export declare function verifyTrace(
  bundle: unknown,
  verifierKeyText: string,
): Promise<{ checkpoint: { ok: boolean; reason: string; origin?: string; size?: number }; entries: EntryVerdict[]; pending: number }>;
