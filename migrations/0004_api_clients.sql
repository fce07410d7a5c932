-- Machine clients: a Cognito app client (client credentials) plus a usage-plan API key.
CREATE TABLE citadel.api_clients (
  id                        uuid PRIMARY KEY,
  name                      text        NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  cognito_client_id         text        NOT NULL UNIQUE,
  scopes                    text[]      NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 3),
  tier                      text        NOT NULL CHECK (tier IN ('basic', 'standard', 'premium')),
  api_key_id                text        NOT NULL,
  previous_api_key_id       text,
  previous_key_expires_at   timestamptz,
  state                     text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
  created_by                text        NOT NULL,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  revoked_at                timestamptz,
  CHECK ((previous_api_key_id IS NULL) = (previous_key_expires_at IS NULL))
);

-- The key-expiry job finds overlapping keys whose window has closed.
CREATE INDEX api_clients_previous_key_expiry ON citadel.api_clients (previous_key_expires_at)
  WHERE previous_api_key_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE ON citadel.api_clients TO citadel_app;
GRANT SELECT ON citadel.api_clients TO citadel_readonly;
