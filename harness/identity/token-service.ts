import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import { CONFIG_KEY_ID_PREFIX } from '../auth/api-key-authenticator.ts';
import type { Principal } from '../auth/principal.ts';
import type { IdentityStore } from './identity-store.ts';

/** `typ` of task tokens (what agents send as Bearer). Keep in sync with README. */
export const TASK_TOKEN_TYP = 'task+jwt';
/** `typ` of user tokens (only ever a `subjectToken` for delegation, never a Bearer). */
export const USER_TOKEN_TYP = 'user+jwt';
/** The one algorithm we sign with and accept (RFC 8725 §3.1: pinned, never taken from the token). */
const ALGORITHMS = ['EdDSA'];
/** Clock skew allowed when checking `exp` and `iat`. */
const CLOCK_TOLERANCE_SECONDS = 5;

const SUBJECT = /^(agent|user):([A-Za-z0-9_-]{1,64})$/;

const BaseClaimsSchema = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string().regex(SUBJECT),
  jti: z.string().uuid(),
  iat: z.number().int(),
  exp: z.number().int(),
  /** Tenant of the subject. */
  tid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  scope: z.string().min(1).max(4000),
  /** Id of the API key the token was minted from (so revoking the key revokes its tokens). */
  akid: z.string().min(1).max(64),
});
const TaskClaimsSchema = BaseClaimsSchema.extend({
  /** RFC 8693 §4.1: the acting party when `sub` is a user. */
  act: z.object({ sub: z.string().regex(/^agent:/) }).optional(),
});
const UserClaimsSchema = BaseClaimsSchema.extend({
  /** RFC 8693 §4.4: the one agent allowed to act for this user with this token. */
  may_act: z.object({ sub: z.string().regex(/^agent:/) }),
});

export interface TokenServiceOptions {
  identity: IdentityStore;
  /** Ed25519 private key, PKCS8 PEM or JWK JSON; undefined = generate one (tokens die with the process). */
  signingKey?: string | undefined;
  issuer: string;
  audience: string;
  /** Longest lifetime a token may have, in seconds. */
  maxTtlSeconds: number;
  /** Told once when the key was generated. */
  warn: (message: string) => void;
}

/** A minted token and what it carries. */
export interface MintedToken {
  token: string;
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
  scopes: string[];
}

/** A verified user token, ready to be the subject of a delegation. */
export interface UserTokenSubject {
  tenantId: string;
  userId: string;
  scopes: string[];
  /** Agent id named in `may_act`. */
  mayAct: string;
}

/** Reads the signing key from config; throws with a message for the operator when it is not Ed25519. */
export function loadSigningKey(text: string): KeyObject {
  // A PEM passed through an env file often has its newlines escaped as `\n`.
  const trimmed = (text.includes('\n') ? text : text.replaceAll('\\n', '\n')).trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' })
      : createPrivateKey(trimmed);
  } catch {
    throw new Error(
      'AIRLOCK_TOKEN_SIGNING_KEY is not a private key: give an Ed25519 key as PKCS8 PEM or JWK',
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `AIRLOCK_TOKEN_SIGNING_KEY is a ${key.asymmetricKeyType} key; it must be Ed25519`,
    );
  }
  return key;
}

/**
 * Mints and verifies the harness's JWTs (RFC 8725, STANDARDS TOK-1/TOK-2): EdDSA only, explicit
 * `typ` per kind with mutually exclusive validation, fixed `iss` and `aud`, required `jti`,
 * `sub`, `iat`, `exp`, and on every verification a Redis check that the token, its key, its
 * agent and the user it acts for have not been revoked or disabled.
 */
export class TokenService {
  readonly #identity: IdentityStore;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #maxTtlSeconds: number;

  constructor(options: TokenServiceOptions) {
    this.#identity = options.identity;
    if (options.signingKey) {
      this.#privateKey = loadSigningKey(options.signingKey);
    } else {
      this.#privateKey = generateKeyPairSync('ed25519').privateKey;
      options.warn(
        'AIRLOCK_TOKEN_SIGNING_KEY is not set: task tokens are signed with a key generated at start, ' +
          'so they stop verifying when the harness restarts and other harness instances reject them. ' +
          'Set an Ed25519 PKCS8 PEM or JWK for production.',
      );
    }
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#maxTtlSeconds = options.maxTtlSeconds;
  }

  /** A task token for an agent; with `actingFor`, `sub` is the user and `act` the agent (RFC 8693). */
  async mintTaskToken(
    agent: Principal,
    options: { scopes: string[]; ttlSeconds: number; actingFor?: string | undefined },
  ): Promise<MintedToken> {
    const extra = options.actingFor ? { act: { sub: `agent:${agent.id}` } } : {};
    const sub = options.actingFor ? `user:${options.actingFor}` : `agent:${agent.id}`;
    return this.#mint(TASK_TOKEN_TYP, agent, sub, extra, options);
  }

  /** A user token: lets exactly the agent `mayAct` act for this user (as `subjectToken`). */
  async mintUserToken(
    user: Principal,
    options: { scopes: string[]; ttlSeconds: number; mayAct: string },
  ): Promise<MintedToken> {
    return this.#mint(
      USER_TOKEN_TYP,
      user,
      `user:${user.id}`,
      { may_act: { sub: `agent:${options.mayAct}` } },
      options,
    );
  }

  async #mint(
    typ: string,
    owner: Principal,
    sub: string,
    extra: Record<string, unknown>,
    options: { scopes: string[]; ttlSeconds: number },
  ): Promise<MintedToken> {
    if (!owner.keyId)
      throw new Error('tokens are minted only for principals authenticated with a key');
    const ttlSeconds = Math.min(options.ttlSeconds, this.#maxTtlSeconds);
    const jti = randomUUID();
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + ttlSeconds;
    const scope = options.scopes.join(' ');
    const token = await new SignJWT({ tid: owner.tenantId, scope, akid: owner.keyId, ...extra })
      .setProtectedHeader({ alg: 'EdDSA', typ })
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.#privateKey);
    await this.#identity.recordToken(jti, {
      tenantId: owner.tenantId,
      ownerKind: owner.kind,
      ownerId: owner.id,
      exp,
    });
    return { token, jti, exp, scopes: options.scopes };
  }

  /** The principal of a valid, unrevoked task token, or null. Never throws for a bad token. */
  async verifyTaskToken(token: string): Promise<Principal | null> {
    const claims = await this.#verify(token, TASK_TOKEN_TYP, TaskClaimsSchema);
    if (!claims) return null;
    const [subKind, subId] = parseSubject(claims.sub);
    let agentId: string;
    let actingFor: string | undefined;
    if (claims.act) {
      if (subKind !== 'user') return null;
      agentId = parseSubject(claims.act.sub)[1];
      actingFor = subId;
    } else {
      if (subKind !== 'agent') return null;
      agentId = subId;
    }
    const valid = await this.#identity.tokenStillValid({
      jti: claims.jti,
      tenantId: claims.tid,
      subject: {
        kind: 'agent',
        id: agentId,
        fromStore: !claims.akid.startsWith(CONFIG_KEY_ID_PREFIX),
      },
      keyId: claims.akid,
      actingFor,
    });
    if (!valid) return null;
    return {
      tenantId: claims.tid,
      agentId,
      id: agentId,
      kind: 'agent',
      // A task token never carries roles: the admin API needs an API key.
      roles: [],
      keyId: claims.akid,
      scopes: claims.scope.split(' '),
      ...(actingFor ? { actingFor } : {}),
      tokenId: claims.jti,
    };
  }

  /** A valid, unrevoked user token of an enabled store user, or null. Never throws for a bad token. */
  async verifyUserToken(token: string): Promise<UserTokenSubject | null> {
    const claims = await this.#verify(token, USER_TOKEN_TYP, UserClaimsSchema);
    if (!claims) return null;
    const [kind, userId] = parseSubject(claims.sub);
    if (kind !== 'user' || claims.akid.startsWith(CONFIG_KEY_ID_PREFIX)) return null;
    const valid = await this.#identity.tokenStillValid({
      jti: claims.jti,
      tenantId: claims.tid,
      subject: { kind: 'user', id: userId, fromStore: true },
      keyId: claims.akid,
    });
    if (!valid) return null;
    return {
      tenantId: claims.tid,
      userId,
      scopes: claims.scope.split(' '),
      mayAct: parseSubject(claims.may_act.sub)[1],
    };
  }

  async #verify<T extends z.ZodType>(
    token: string,
    typ: string,
    schema: T,
  ): Promise<z.infer<T> | null> {
    try {
      const { payload } = await jwtVerify(token, this.#publicKey, {
        algorithms: ALGORITHMS,
        typ,
        issuer: this.#issuer,
        audience: this.#audience,
        requiredClaims: ['jti', 'sub', 'iat', 'exp', 'tid', 'scope', 'akid'],
        maxTokenAge: this.#maxTtlSeconds,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const parsed = schema.safeParse(payload);
      return parsed.success ? parsed.data : null;
    } catch {
      // Every failure (bad signature, alg, typ, iss, aud, expiry, shape) is the same 401.
      return null;
    }
  }
}

function parseSubject(sub: string): ['agent' | 'user', string] {
  const match = SUBJECT.exec(sub);
  if (!match?.[1] || !match[2]) throw new Error('subject was validated by the claims schema');
  return [match[1] as 'agent' | 'user', match[2]];
}
