// A real OAuth 2.0 authorisation server on loopback for outpost-auth's connect-flow tests:
// oidc-provider (panva; OpenID-certified, RFC 6749 / 7636 / 7009 / 8252 / 9207) with the
// configuration below. Started by crates/outpost-auth/tests/oauth_flow.rs (or by hand through
// scripts/oauth-test-server.sh start), never in production.
//
//   node server.mjs [--port N] [--exit-with-stdin]
//
// It listens on 127.0.0.1 only (port 0 = any free port) and prints exactly one line on stdout
// when it is ready:   ready <issuer>      e.g. "ready http://127.0.0.1:41234"
// With --exit-with-stdin it exits when its standard input closes, so a test process that dies
// cannot leave it running.
//
// Clients (the redirect URIs' port is free: oidc-provider applies RFC 8252 §7.3 to
// `application_type: native` clients and ignores the port of http://127.0.0.1 redirects):
//   outpost-public        public client (token_endpoint_auth_method none), PKCE S256 required
//   outpost-confidential  confidential client, client_secret_basic, PKCE optional
//     (secret: outpost-test-secret)
// Both get refresh tokens (offline_access, or any request: see issueRefreshToken), rotated on
// every use (rotateRefreshToken: true; re-using a rotated one revokes the whole grant).
// Revocation (RFC 7009) is at <issuer>/token/revocation.
//
// User interaction: instead of oidc-provider's devInteractions (a login form that asks for a
// user name and a separate consent form) this launcher serves its own two-button page for one
// fixed test user, so a test can act as the person in the browser with plain HTTP:
//   GET  /interaction/<uid>          the page (which prompt: login or consent)
//   POST /interaction/<uid>/approve  logs in as "outpost-test-user" / grants what is asked
//   POST /interaction/<uid>/deny     the person declines: the client gets error=access_denied
// A first authorisation asks "login" and then "consent" (two approvals); the test follows the
// 303 redirects with the cookies oidc-provider sets (_interaction, _interaction_resume,
// _session).

import * as http from 'node:http';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 0);
// stdout carries only the ready line; oidc-provider's notices (console.log/info) go to stderr.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});
const TEST_USER = 'outpost-test-user';

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'outpost-public',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback', 'https://relay.outpost.test/oauth-relay.html'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'outpost-confidential',
      client_secret: 'outpost-test-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  // Public clients must use PKCE (S256 is the only method oidc-provider accepts); confidential
  // ones may, like Pinterest or LinkedIn's standard flow.
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  scopes: ['openid', 'offline_access', 'post.write'],
  // Issue a refresh token for every code exchange, like the networks Outpost talks to, whether
  // or not offline_access was asked for.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    RefreshToken: 24 * 3600,
    Grant: 24 * 3600,
    Interaction: 600,
    Session: 3600,
  },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    // A client may revoke only its own tokens.
    revocation: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
  },
  // Fixed keys: this server only ever runs in tests.
  cookies: { keys: ['outpost-oauth-test-server-cookie-key'] },
});

const page = (title, body) => `<!doctype html><meta charset="utf-8"><title>${title}</title>
<h1>${title}</h1>${body}`;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('interaction mismatch');
    return;
  }
  const { prompt, params } = details;
  if (req.method === 'GET' && !action) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(
      `Test sign-in: ${esc(prompt.name)}`,
      `<p>Client <code>${esc(params.client_id)}</code> asks for <code>${esc(params.scope ?? '')}</code>.</p>
<form method="post" action="/interaction/${esc(uid)}/approve"><button>Approve as ${TEST_USER}</button></form>
<form method="post" action="/interaction/${esc(uid)}/deny"><button>Deny</button></form>`,
    ));
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  if (action === 'deny') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the user declined the request',
    }, { mergeWithLastSubmission: false });
    return;
  }
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: TEST_USER } };
  } else {
    const accountId = details.session?.accountId ?? TEST_USER;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    const d = prompt.details ?? {};
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const handler = provider.callback();
server.on('request', (req, res) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(approve|deny))?$/.exec(req.url.split('?')[0]);
  if (!m) {
    handler(req, res);
    return;
  }
  // Drain a posted body (the forms post none, a test may post anything).
  req.resume();
  interaction(req, res, m[1], m[2]).catch((err) => {
    if (!res.headersSent) {
      res.writeHead(400, { 'content-type': 'text/plain' });
    }
    res.end(`interaction failed: ${err.message}`);
  });
});

if (args.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));

// The one line a starter waits for.
process.stdout.write(`ready ${issuer}\n`);
