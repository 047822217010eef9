/**
 * Scope algebra (harness/auth/scopes.ts) and signing-key loading (harness/identity/token-service.ts).
 * Pure functions: no Redis, nothing faked.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  UNRESTRICTED,
  intersect,
  narrow,
  parseScopes,
  routeAction,
  splitScope,
} from '../../harness/auth/scopes.ts';
import { loadConfig as loadHarnessConfig } from '../../harness/config.ts';
import { loadSigningKey } from '../../harness/identity/token-service.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
};

describe('scopes', () => {
  test('parse: unknown entries, unknown runtimes and bad separators are invalid_scope', () => {
    for (const bad of [['tasks:delete'], ['runtime:cobol'], ['grant:a/b'], ['*'], ['']]) {
      assert.equal(
        code(() => parseScopes(bad)),
        'INVALID_SCOPE',
        JSON.stringify(bad),
      );
    }
    assert.equal(
      code(() => splitScope('tasks:read  tasks:create')),
      'INVALID_SCOPE',
    );
    assert.equal(
      code(() => splitScope(' tasks:read')),
      'INVALID_SCOPE',
    );
    assert.deepEqual(splitScope('tasks:read tasks:read'), ['tasks:read']);
  });

  test('narrow never widens, in any dimension, and inherits restrictions the request leaves open', () => {
    const allowed = parseScopes(['tasks:read', 'tasks:create', 'runtime:python', 'grant:data']);
    assert.deepEqual(narrow(allowed, UNRESTRICTED), [
      'tasks:read',
      'tasks:create',
      'runtime:python',
      'grant:data',
    ]);
    assert.deepEqual(narrow(allowed, parseScopes(['tasks:read'])), [
      'tasks:read',
      'runtime:python',
      'grant:data',
    ]);
    for (const wider of [
      ['tasks:cancel'],
      ['tasks:read', 'runtime:bash'],
      ['tasks:read', 'grant:other'],
      ['admin'],
    ]) {
      assert.equal(
        code(() => narrow(allowed, parseScopes(wider))),
        'INVALID_SCOPE',
        wider.join(' '),
      );
    }
    // Unrestricted credentials: tokens get the task actions, never admin.
    assert.deepEqual(narrow(UNRESTRICTED, UNRESTRICTED), [
      'tasks:create',
      'tasks:read',
      'tasks:cancel',
    ]);
    assert.deepEqual(narrow(UNRESTRICTED, parseScopes(['admin']), { allowAdmin: true }), ['admin']);
    // No action left → refused rather than an empty token.
    assert.equal(
      code(() => narrow(allowed, parseScopes(['runtime:python']))),
      'INVALID_SCOPE',
    );
  });

  test('intersect: delegation gets what both sides allow; disjoint restrictions are refused', () => {
    const agent = parseScopes(['tasks:read', 'tasks:create', 'runtime:python', 'runtime:node']);
    const user = parseScopes(['tasks:read', 'runtime:python', 'runtime:bash']);
    assert.deepEqual(narrow(intersect(agent, user), UNRESTRICTED), [
      'tasks:read',
      'runtime:python',
    ]);
    assert.deepEqual(narrow(intersect(agent, UNRESTRICTED), UNRESTRICTED), [
      'tasks:read',
      'tasks:create',
      'runtime:python',
      'runtime:node',
    ]);
    const disjoint = intersect(agent, parseScopes(['tasks:read', 'runtime:bash']));
    assert.equal(
      code(() => narrow(disjoint, UNRESTRICTED)),
      'INVALID_SCOPE',
    );
  });

  test('routes: task routes map to actions, admin routes to admin, unknown routes to nothing (fail closed)', () => {
    assert.equal(routeAction('POST', '/v1/tasks'), 'tasks:create');
    assert.equal(routeAction('GET', '/v1/tasks/:id/events'), 'tasks:read');
    assert.equal(routeAction('DELETE', '/v1/tasks/:id'), 'tasks:cancel');
    assert.equal(routeAction('PUT', '/v1/admin/grants/:name'), 'admin');
    assert.equal(routeAction('POST', '/v1/tokens'), null);
    assert.equal(routeAction('POST', '/v1/capabilities/:name'), undefined);
  });
});

describe('signing key', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  test('PKCS8 PEM, PEM with escaped newlines, and JWK load', () => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.equal(loadSigningKey(pem).asymmetricKeyType, 'ed25519');
    assert.equal(loadSigningKey(pem.replaceAll('\n', '\\n')).asymmetricKeyType, 'ed25519');
    assert.equal(
      loadSigningKey(JSON.stringify(privateKey.export({ format: 'jwk' }))).asymmetricKeyType,
      'ed25519',
    );
  });
  test('other key types and garbage are refused with a message for the operator', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    assert.throws(() => loadSigningKey(rsa), /must be Ed25519/);
    assert.throws(
      () => loadSigningKey('not a key'),
      /AIRLOCK_TOKEN_SIGNING_KEY is not a private key/,
    );
    const publicOnly = generateKeyPairSync('ed25519')
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    assert.throws(() => loadSigningKey(publicOnly), /not a private key/);
  });
});

describe('token config', () => {
  test('defaults: 15 min tokens, 1 h cap; a default above the cap is refused', () => {
    const c = loadHarnessConfig({});
    assert.equal(c.TOKEN_DEFAULT_TTL_SECONDS, 900);
    assert.equal(c.TOKEN_MAX_TTL_SECONDS, 3600);
    assert.equal(c.AIRLOCK_TOKEN_SIGNING_KEY, undefined);
    assert.throws(
      () => loadHarnessConfig({ TOKEN_DEFAULT_TTL_SECONDS: '7200' }),
      /TOKEN_DEFAULT_TTL_SECONDS/,
    );
  });
});
