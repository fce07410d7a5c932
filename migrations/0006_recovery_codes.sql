-- MFA recovery codes. A person's current set is the one `recovery_code_sets` names: issuing a new set replaces the
-- name, so every code of an older set stops working at once (those rows stay, as history). Each code is stored as
-- its selector (the first two characters, to find it) and a scrypt hash of the rest, with its own salt; never the
-- code itself.
CREATE TABLE citadel.recovery_code_sets (
  user_id       text        PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 256),
  set_id        uuid        NOT NULL UNIQUE,
  generated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE citadel.recovery_codes (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     text        NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
  set_id      uuid        NOT NULL,
  selector    text        NOT NULL CHECK (selector ~ '^[0-9a-hjkmnp-tv-z]{2}$'),
  hash        text        NOT NULL CHECK (hash ~ '^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz,
  UNIQUE (set_id, selector)
);

-- A recovery looks up one unused code by person and selector.
CREATE INDEX recovery_codes_unused ON citadel.recovery_codes (user_id, selector) WHERE used_at IS NULL;

-- Failed recoveries per user name as typed (its SHA-256: the table holds no user names), for the lockout.
CREATE TABLE citadel.recovery_attempts (
  login_key          text        PRIMARY KEY CHECK (login_key ~ '^[0-9a-f]{64}$'),
  failures           integer     NOT NULL CHECK (failures >= 0),
  window_started_at  timestamptz NOT NULL,
  locked_until       timestamptz
);

-- The application issues sets and codes and marks codes used; it can never rewrite a hash or a selector.
-- Reporting users see none of it.
GRANT SELECT, INSERT ON citadel.recovery_code_sets TO citadel_app;
GRANT UPDATE (set_id, generated_at) ON citadel.recovery_code_sets TO citadel_app;
GRANT SELECT, INSERT ON citadel.recovery_codes TO citadel_app;
GRANT UPDATE (used_at) ON citadel.recovery_codes TO citadel_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON citadel.recovery_attempts TO citadel_app;
