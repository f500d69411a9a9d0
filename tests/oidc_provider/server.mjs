// A real OpenID Connect provider for the browser test: panva's oidc-provider (OpenID Certified),
// with its development sign-in pages (any password; the login typed becomes the subject and the
// e-mail). Configured from the environment by tests/oidc.py; prints "listening <issuer>".
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true, name: id }),
  }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['slaflow-test-cookie-key'] },
});
provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
