"""The schema of the original Sump's database, built by its one migration (spec §A.2)."""

# The original's one knex migration, `0001-big-bang`, as spec §A.2 describes it.
ORIGINAL_DDL = """
CREATE TABLE migrations (id serial PRIMARY KEY, name varchar(255), batch integer, migration_time timestamptz);
INSERT INTO migrations (name, batch, migration_time) VALUES ('0001-big-bang.js', 1, now());

CREATE FUNCTION on_update_timestamp() RETURNS trigger AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE tenant (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(255) NOT NULL,
  custom_properties jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT tenant_id_unique UNIQUE (id)
);
CREATE INDEX tenant_idx ON tenant (id);

CREATE TABLE tenant_account (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL CONSTRAINT tenant_account_email_unique UNIQUE,
  email_verified boolean NOT NULL DEFAULT false,
  phone varchar(255) CONSTRAINT tenant_account_phone_unique UNIQUE,
  phone_verified boolean NOT NULL DEFAULT false,
  username varchar(255) NOT NULL CONSTRAINT tenant_account_username_unique UNIQUE,
  name varchar(255) NOT NULL,
  avatar_url varchar(255),
  password_hash varchar(255),
  roles jsonb NOT NULL DEFAULT '[]',
  tenant_id uuid REFERENCES tenant (id) ON DELETE CASCADE,
  disabled boolean NOT NULL DEFAULT false,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT tenant_account_id_unique UNIQUE (id)
);
CREATE INDEX tenant_account_idx ON tenant_account (id);

CREATE TABLE environment (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(255) NOT NULL,
  custom_properties jsonb NOT NULL,
  tenant_id uuid REFERENCES tenant (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT environment_id_unique UNIQUE (id)
);
CREATE INDEX environment_idx ON environment (id);

CREATE TABLE environment_account (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL CONSTRAINT environment_account_email_unique UNIQUE,
  email_verified boolean NOT NULL DEFAULT false,
  phone varchar(255) CONSTRAINT environment_account_phone_unique UNIQUE,
  phone_verified boolean NOT NULL DEFAULT false,
  username varchar(255) NOT NULL CONSTRAINT environment_account_username_unique UNIQUE,
  name varchar(255) NOT NULL,
  avatar_url varchar(255),
  password_hash varchar(255),
  custom_properties jsonb NOT NULL,
  environment_id uuid REFERENCES environment (id) ON DELETE CASCADE,
  disabled boolean NOT NULL DEFAULT false,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT environment_account_id_unique UNIQUE (id)
);
CREATE INDEX environment_account_idx ON environment_account (id);

CREATE TABLE session (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token varchar(64) NOT NULL CONSTRAINT session_token_unique UNIQUE,
  account_type text CHECK (account_type IN ('tenant_account', 'environment_account')),
  account_id uuid NOT NULL,
  context_type text CHECK (context_type IN ('tenant', 'environment')),
  context_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  ip_address varchar(45),
  user_agent text,
  last_active_at timestamptz DEFAULT CURRENT_TIMESTAMP,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT session_id_unique UNIQUE (id)
);
CREATE INDEX session_idx ON session (id);
CREATE INDEX session_token_idx ON session (token);
CREATE INDEX idx_session_account ON session (account_type, account_id);
CREATE INDEX idx_session_expires ON session (expires_at);

CREATE TABLE password_reset_token (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token varchar(64) NOT NULL CONSTRAINT password_reset_token_token_unique UNIQUE,
  account_type text CHECK (account_type IN ('tenant_account', 'environment_account')),
  account_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT password_reset_token_id_unique UNIQUE (id)
);
CREATE INDEX password_reset_token_idx ON password_reset_token (id);
CREATE INDEX password_reset_token_token_idx ON password_reset_token (token);
CREATE INDEX idx_password_reset_account ON password_reset_token (account_type, account_id);

CREATE TRIGGER tenant_updated_at BEFORE UPDATE ON tenant
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER tenant_account_updated_at BEFORE UPDATE ON tenant_account
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER environment_updated_at BEFORE UPDATE ON environment
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER environment_account_updated_at BEFORE UPDATE ON environment_account
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
"""
