// Minimal OpenID Provider for tests: oidc-provider (panva) on 127.0.0.1.
//
//   IDP_PORT=9000 RP_PORT=8080 IDP_INTERACTIONS=auto|dev node idp.mjs
//
// IDP_INTERACTIONS=auto (default): no UI. /interaction/:uid signs the one account in and grants
//   the requested scopes/claims at once, so /auth -> ... -> redirect_uri?code= is a plain
//   redirect chain a test can follow with a cookie jar.
// IDP_INTERACTIONS=dev: oidc-provider's built-in devInteractions (login form + consent form);
//   a test POSTs prompt=login&login=<sub>&password=<anything>, then prompt=consent.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.IDP_PORT ?? 9000);
const RP_PORT = Number(process.env.RP_PORT ?? 8080);
const MODE = process.env.IDP_INTERACTIONS ?? 'auto';
const ISSUER = `http://127.0.0.1:${PORT}`;

// Static account store: one user.
const ACCOUNTS = new Map([
  ['user-1', { sub: 'user-1', email: 'alice@example.test', email_verified: true }],
]);

// A fresh RS256 signing key each start (clients fetch it from jwks_uri).
const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const configuration = {
  clients: [{
    client_id: 'roster',
    client_secret: 'roster-secret',
    redirect_uris: [`http://127.0.0.1:${RP_PORT}/cb`],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: ['test-cookie-key-1'] },
  pkce: { required: () => true },            // PKCE for every client; S256 is the only method by default
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,               // put scope-requested claims (email) in the ID token too
  features: { devInteractions: { enabled: MODE === 'dev' } },
  async findAccount(ctx, sub) {
    const account = ACCOUNTS.get(sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { ...account }; } };
  },
};

const provider = new Provider(ISSUER, configuration);
const oidc = provider.callback();

async function autoInteraction(req, res) {
  const { prompt, params, session, grantId } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: 'user-1' } },
      { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'consent') {
    const grant = grantId ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true });
  }
  res.writeHead(501).end(`prompt ${prompt.name} not handled`);
}

const server = http.createServer((req, res) => {
  if (MODE !== 'dev' && req.method === 'GET' && /^\/interaction\/[\w-]+$/.test(req.url)) {
    autoInteraction(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(400).end(String(err.message));
    });
    return;
  }
  oidc(req, res);
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${ISSUER} (interactions: ${MODE})`);
});
