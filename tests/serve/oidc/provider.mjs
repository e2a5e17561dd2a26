// A real OpenID provider for the review application's tests: panva's certified
// oidc-provider with its development sign-in pages (any password; the login names an
// account below). Usage: node provider.mjs PORT REDIRECT_URI CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, redirectUri, clientSecret] = process.argv.slice(2);

// The test directory's people (tests/data/people/people.csv) by their e-mail addresses.
const ACCOUNTS = {
  'ed.fox': { email: 'u00010@northbridge-bank.example', groups: ['audit-managers'] },
  'rita': { email: 'rita@northbridge-bank.example', groups: ['audit-reviewers', 'staff'] },
  'nobody': { email: 'nobody@elsewhere.example', groups: ['audit-managers'] },
  'plain': { email: 'u00001@northbridge-bank.example', groups: ['staff'] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'auditor',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['a-test-cookie-key-that-is-not-secret'] },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, groups: account.groups };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${port}`);
});
