"""OAuth 2.0 / OpenID Connect clients: registration, secrets, client authentication and the client_credentials grant."""
