"""Each environment as an OpenID Provider: the authorization endpoint and the flow that waits for its end user,
codes, consents, ID tokens, userinfo, end-session and discovery."""
