-- Append-only audit trail of every security-relevant action, allowed or denied.
CREATE TABLE citadel.audit_events (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  actor_id     text        NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 256),
  actor_kind   text        NOT NULL CHECK (actor_kind IN ('user', 'machine', 'system', 'anonymous')),
  action       text        NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{1,63}$'),
  target       text        CHECK (length(target) <= 512),
  outcome      text        NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
  request_id   text        CHECK (length(request_id) <= 128),
  source_ip    inet,
  details      jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (octet_length(details::text) <= 8192)
);

CREATE INDEX audit_events_occurred ON citadel.audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_actor ON citadel.audit_events (actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_action ON citadel.audit_events (action, occurred_at DESC, id DESC);

-- The application may write and read the trail, never change or remove it.
GRANT SELECT, INSERT ON citadel.audit_events TO citadel_app;
GRANT SELECT ON citadel.audit_events TO citadel_readonly;

-- Belt and braces: even a role that gains UPDATE/DELETE by mistake cannot rewrite history.
CREATE FUNCTION citadel.audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON citadel.audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION citadel.audit_events_append_only();
