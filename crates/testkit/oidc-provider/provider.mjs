// An independent OpenID provider for the browser-login tests: node `oidc-provider`
// (OpenID-certified), configured to issue Keycloak-shaped claims. Started by
// desk_testkit::oidc_provider::OidcProvider, which passes its configuration as JSON on stdin:
//   { client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//     backchannel_logout_uri, accounts: { <sub>: { email, email_verified, given_name,
//     family_name, roles } } }
// Prints "LISTENING <port>" once it accepts connections on 127.0.0.1.
import http from 'node:http';
import Provider from 'oidc-provider';

// The library's start-up advice about development defaults is noise in test output.
const warn = console.warn.bind(console);
console.warn = (...args) => {
  if (!String(args[0]).includes('oidc-provider WARNING')) warn(...args);
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const config = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris,
    backchannel_logout_uri: config.backchannel_logout_uri,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, sub) {
    const account = config.accounts[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: account.email_verified,
          given_name: account.given_name,
          family_name: account.family_name,
          // Keycloak's layout of client roles.
          resource_access: { [config.client_id]: { roles: account.roles || [] } },
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'resource_access'],
  },
  // Put the scope claims into the ID token too, as Keycloak does.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['desk-test-only-cookie-key'] },
  // The app under test listens on 127.0.0.1, which the library's SSRF guard for outgoing
  // requests (back-channel logout) refuses; this provider only ever runs in tests.
  fetch: (url, options) => {
    const { dispatcher: _guard, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  ttl: { IdToken: config.id_token_ttl || 300, AccessToken: 300, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
provider.on('backchannel.error', (_ctx, err) => console.error('oidc-provider backchannel.error', err.message, err.cause));
server.on('request', provider.callback());
console.log(`LISTENING ${port}`);
