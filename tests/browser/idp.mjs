// A real OpenID provider for the staff app's end-to-end suite: the certified
// `oidc-provider` package (pinned in package-lock.json), on loopback over HTTP, with its
// own sign-in and consent pages (devInteractions: any login name, any password). One
// client, Portvakt Central's: code flow with PKCE, client_secret_basic, RS256 ID tokens
// with auth_time, and the e-mail claims in the ID token. Started by
// scripts/browser-staff.sh:
//   node tests/browser/idp.mjs PORT REDIRECT_URI CLIENT_SECRET_FILE
// It prints "listening <issuer>" once it answers.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const [port, redirect, secretFile] = process.argv.slice(2);
if (!port || !redirect || !secretFile) {
  console.error("usage: node idp.mjs PORT REDIRECT_URI CLIENT_SECRET_FILE");
  process.exit(64);
}
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "e2e-1" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: "portvakt-central",
    client_secret: readFileSync(secretFile, "utf8").trim(),
    redirect_uris: [redirect],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "RS256",
    require_auth_time: true,
  }],
  jwks: { keys: [jwk] },
  // The login name typed on the provider's page is the person's e-mail address, verified.
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true, name: id }),
  }),
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // Central reads the person from the ID token, not from userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [jwk.d.slice(0, 32)] },
});
// Its own warnings about a development setup (HTTP, devInteractions) are expected here.
provider.on("server_error", (_ctx, err) => console.error("provider error:", err));
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${issuer}`));
