"""The hosted pages of each environment: sign-in, sign-up, password reset and consent for its end users."""
