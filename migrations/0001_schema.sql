-- Citadel's schema and the roles that use it.
--   citadel_app       the application: logs in with an IAM token on RDS (rds_iam), least privilege.
--   citadel_readonly  group role for read-only reporting users (their logins rotate through Secrets Manager).
-- The migration runner owns everything as the master user; nobody else may create objects.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS citadel;
REVOKE ALL ON SCHEMA citadel FROM PUBLIC;

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citadel_app') THEN
    CREATE ROLE citadel_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citadel_readonly') THEN
    CREATE ROLE citadel_readonly NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  -- rds_iam exists only on RDS: there, the app authenticates with IAM tokens and holds no password.
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO citadel_app;
  END IF;
END
$$;

-- Server-enforced limits (they survive RDS Proxy multiplexing, unlike session SETs, which would pin):
-- a statement never outlives the Lambda that issued it, and no transaction idles holding locks.
ALTER ROLE citadel_app SET statement_timeout = '4s';
ALTER ROLE citadel_app SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE citadel_readonly SET statement_timeout = '60s';

DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO citadel_app, citadel_readonly', current_database());
END
$$;

GRANT USAGE ON SCHEMA citadel TO citadel_app, citadel_readonly;
