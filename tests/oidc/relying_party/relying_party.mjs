// A relying party on openid-client (a certified OpenID Connect client library), one step per run, driven by
// tests/oidc/browser/test_openid_client.py. It reads one JSON object from its argument and prints one.
//   {"step": "start", issuer, clientId, secret?, redirectUri, scope}   -> {url, verifier, nonce, state}
//   {"step": "finish", issuer, clientId, secret?, callback, verifier, nonce, state, postLogoutRedirectUri}
//        -> the code exchange, the ID token's claims, userinfo, introspection, refresh, revocation, end session
//   {"step": "machine", issuer, clientId, secret}                      -> a client_credentials grant
// A refusal by Sump prints {"error": code, "status": n, ...} and exits 0; anything else throws.
import * as client from "openid-client";

const input = JSON.parse(process.argv[2]);

async function configuration() {
  const authentication = input.secret ? client.ClientSecretBasic(input.secret) : client.None();
  const config = await client.discovery(new URL(input.issuer), input.clientId, undefined, authentication, {
    execute: [client.allowInsecureRequests],
  });
  // The ID token's signature is checked against the JWKS even though it came from the token endpoint.
  client.enableNonRepudiationChecks(config);
  return config;
}

async function start(config) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirectUri,
    scope: input.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
  });
  return { url: url.href, verifier, nonce, state };
}

async function finish(config) {
  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback), {
    pkceCodeVerifier: input.verifier,
    expectedNonce: input.nonce,
    expectedState: input.state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const header = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url").toString());
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const introspected = input.secret ? await client.tokenIntrospection(config, tokens.access_token) : null;
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  await client.tokenRevocation(config, refreshed.refresh_token);
  let afterRevocation;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
    afterRevocation = "refreshed";
  } catch (error) {
    afterRevocation = refusal(error);
  }
  let replayedCode;
  try {
    await client.authorizationCodeGrant(config, new URL(input.callback), {
      pkceCodeVerifier: input.verifier,
      expectedNonce: input.nonce,
      expectedState: input.state,
    });
    replayedCode = "exchanged";
  } catch (error) {
    replayedCode = refusal(error);
  }
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: input.postLogoutRedirectUri,
    state: "bye",
  });
  return {
    tokenType: tokens.token_type,
    expiresIn: tokens.expiresIn(),
    scope: tokens.scope,
    algorithm: header.alg,
    claims,
    refreshedClaims: refreshed.claims() ?? null,
    userinfo,
    introspected,
    refreshedDiffers: refreshed.access_token !== tokens.access_token && refreshed.refresh_token !== tokens.refresh_token,
    afterRevocation,
    replayedCode,
    endSession: endSession.href,
  };
}

async function machine(config) {
  const tokens = await client.clientCredentialsGrant(config);
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  return { tokenType: tokens.token_type, expiresIn: tokens.expiresIn(), hasRefreshToken: tokens.refresh_token !== undefined, introspected };
}

function refusal(error) {
  if (error instanceof client.ResponseBodyError) {
    return { error: error.error, status: error.status, description: error.error_description ?? null };
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    const [challenge] = error.cause;
    return { error: challenge.parameters.error ?? null, status: error.status, challenge: challenge.scheme };
  }
  throw error;
}

const steps = { start, finish, machine };
try {
  process.stdout.write(JSON.stringify(await steps[input.step](await configuration())));
} catch (error) {
  process.stdout.write(JSON.stringify(refusal(error)));
}
