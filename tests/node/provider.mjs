// A real OpenID Provider (panva's certified oidc-provider) for the tests only.
//
//   node provider.mjs PORT [CONFIG_JSON]      (PORT 0 = any free port; CONFIG_JSON may also come from
//                                              the environment variable OIDC_PROVIDER_CONFIG)
//
// Listens on 127.0.0.1 with issuer http://127.0.0.1:PORT and prints ONE JSON line on stdout when it
// is ready: {"issuer": ..., "port": ..., "kids": [...], "audiences": [...], "signing_alg": ...}.
// Everything else (events, errors) goes to stderr. It stops on SIGTERM/SIGINT and when its standard
// input closes, so a test run that dies never leaves it behind.
//
// Keys are new at every start (made by the caller, tests/oidc.py, or else here: one RSA key for RS256, one P-256 key for ES256), never
// stored. Their kids are "<kid_prefix>-rs256" and "<kid_prefix>-es256"; the prefix is random unless
// the configuration gives one, so a restart on the same port is a key rotation.
//
// Configuration (every field optional):
//   audiences         the audiences ("aud") for which access tokens are JWTs; the first is the default
//                     resource ["casusregie-api"]. An audience that is not an absolute URI is requested
//                     with the resource indicator "urn:audience:<audience>" (RFC 8707 wants a URI).
//   scope             the scope each resource server offers ["api"]
//   signing_alg       access-token signing algorithm, RS256 or ES256 ["RS256"]
//   kid_prefix        prefix of the key ids [random]
//   jwks              the private signing keys, {"keys": [RS256 JWK, ES256 JWK]} [generated at start]
//   access_token_ttl  access-token lifetime in seconds [600]; a client's own "access_token_ttl"
//                     metadata overrides it (short-lived tokens for expiry tests)
//   clients           client metadata (oidc-provider format) [one public PKCE client, casusregie-test]
//
// Logging in is a minimal interaction of our own instead of devInteractions: any login name is
// accepted and becomes the account id (the token's "sub"); the password is not checked.
//   GET  /interaction/:uid          JSON {"uid", "prompt", "details", "client_id"}; a browser (Accept:
//                                   text/html) gets the login page, or the consent page, as a form
//   POST /interaction/:uid/login    form login=NAME&password=...   -> 303 back to the authorization
//   POST /interaction/:uid/confirm  grants every missing scope     -> 303 back to the authorization
//   POST /interaction/:uid/abort    denies                          -> 303 back (error=access_denied)

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`usage: node provider.mjs PORT [CONFIG_JSON] (got port ${process.argv[2]})\n`);
  process.exit(2);
}
const config = JSON.parse(process.argv[3] ?? process.env.OIDC_PROVIDER_CONFIG ?? '{}');

const audiences = config.audiences ?? ['casusregie-api'];
const resourceScope = config.scope ?? 'api';
const signingAlg = config.signing_alg ?? 'RS256';
const kidPrefix = config.kid_prefix ?? randomBytes(6).toString('hex');
const accessTokenTTL = config.access_token_ttl ?? 600;
const clients = config.clients ?? [{
  client_id: 'casusregie-test',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
}];
if (!['RS256', 'ES256'].includes(signingAlg)) {
  process.stderr.write(`signing_alg must be RS256 or ES256, not ${signingAlg}\n`);
  process.exit(2);
}

// A resource indicator must be an absolute URI (RFC 8707); an audience such as "casusregie-api" is
// requested as the resource "urn:audience:casusregie-api" and still becomes the token's "aud" as is.
function resourceFor(audience) {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(audience) ? audience : `urn:audience:${audience}`;
}

function privateJwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: `${kidPrefix}-${alg.toLowerCase()}`, alg, use: 'sig' };
}

// Start-up steps go to stderr, so that a start that hangs says where (a test reports the provider's stderr).
const started = Date.now();
const step = (what) => process.stderr.write(`start: ${what} after ${Date.now() - started} ms\n`);
step('modules loaded');

// Keys given by the caller (tests/oidc.py makes them: generateKeyPairSync has been seen to hang here, waiting
// on a futex, in about one start in twenty on a loaded machine), else made here.
const jwks = config.jwks ?? {
  keys: [
    privateJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    privateJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

// The issuer holds the port, so bind first; the handler is attached once the provider exists.
step('keys generated');
const server = createServer();
let actualPort;
try {
  actualPort = await listen(server);
} catch (err) {
  process.stderr.write(`cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
  process.exit(3);
}
const issuer = `http://127.0.0.1:${actualPort}`;

step(`listening on ${actualPort}`);
const provider = new Provider(issuer, {
  clients,
  jwks,
  responseTypes: ['code'],
  extraClientMetadata: { properties: ['access_token_ttl'] },
  findAccount(ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resourceFor(audiences[0]),
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        const audience = audiences.find((candidate) => resourceFor(candidate) === resourceIndicator);
        if (audience === undefined) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: resourceScope,
          audience,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: signingAlg } },
        };
      },
    },
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: (ctx, token, client) => client?.access_token_ttl ?? accessTokenTTL,
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'introspection.error', 'userinfo.error']) {
  provider.on(event, (ctx, err) => {
    process.stderr.write(`${event}: ${err.name}: ${err.message} ${err.error_description ?? ''}\n`);
  });
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The provider's own pages, as a browser sees them: a login form, or a consent form.
function sendPage(res, uid, promptName, clientId) {
  const login = promptName === 'login';
  const body = login
    ? `<h1>Inloggen</h1>
<form method="post" action="/interaction/${uid}/login">
<p><label for="login">Gebruikersnaam</label><br><input id="login" name="login" autocomplete="username" required></p>
<p><label for="password">Wachtwoord</label><br><input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit">Inloggen</button></p>
</form>`
    : `<h1>Toestemming</h1>
<p>${escapeHtml(clientId)} vraagt uw identiteit.</p>
<form method="post" action="/interaction/${uid}/confirm"><p><button type="submit">Toestaan</button></p></form>
<form method="post" action="/interaction/${uid}/abort"><p><button type="submit">Weigeren</button></p></form>`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>Identiteitsprovider (test)</title></head>
<body><main>${body}</main></body></html>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendJson(res, 400, { error: 'interaction_mismatch' });
    return;
  }
  const { prompt, params, session, grantId } = details;
  if (req.method === 'GET' && !action) {
    if ((req.headers.accept ?? '').includes('text/html')) {
      sendPage(res, uid, prompt.name, params.client_id);
      return;
    }
    sendJson(res, 200, { uid, prompt: prompt.name, details: prompt.details, client_id: params.client_id });
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method_not_allowed' });
    return;
  }
  const form = await readForm(req);
  if (action === 'login') {
    const login = form.get('login');
    if (prompt.name !== 'login' || !login) {
      sendJson(res, 400, { error: 'invalid_login', prompt: prompt.name });
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'confirm') {
    if (prompt.name !== 'consent') {
      sendJson(res, 400, { error: 'not_a_consent_prompt', prompt: prompt.name });
      return;
    }
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const result = { consent: { grantId: await grant.save() } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    return;
  }
  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  sendJson(res, 404, { error: 'not_found' });
}

const providerHandler = provider.callback();
const interactionPath = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/;

server.on('request', (req, res) => {
  const match = interactionPath.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    providerHandler(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    process.stderr.write(`interaction error: ${err.name}: ${err.message}\n`);
    if (!res.headersSent) sendJson(res, 400, { error: err.name, error_description: err.message });
    else res.end();
  });
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

step('provider ready');
process.stdout.write(`${JSON.stringify({
  issuer,
  port: actualPort,
  kids: jwks.keys.map((k) => k.kid),
  audiences,
  signing_alg: signingAlg,
})}\n`);
