-- Uploaded files and their upload/scan state. Keys are server-generated: uploads/<owner>/<id>.
CREATE TABLE citadel.files (
  id             uuid PRIMARY KEY,
  owner_id       text        NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 128),
  object_key     text        NOT NULL UNIQUE CHECK (object_key LIKE 'uploads/%'),
  filename       text        NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  content_type   text        NOT NULL CHECK (length(content_type) BETWEEN 3 AND 127),
  declared_size  bigint      NOT NULL CHECK (declared_size > 0),
  sha256         text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  upload_id      text,
  part_size      bigint      CHECK (part_size > 0),
  part_count     integer     CHECK (part_count BETWEEN 1 AND 10000),
  state          text        NOT NULL DEFAULT 'uploading' CHECK (state IN
                   ('uploading', 'scanning', 'clean', 'infected', 'rejected', 'scan_failed', 'failed', 'aborted', 'deleted')),
  scan_status    text,
  detected_type  text,
  failure_reason text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  scanned_at     timestamptz,
  deleted_at     timestamptz
);

-- Listing: own files newest first, and everyone's for managers; both paginate on (created_at, id).
CREATE INDEX files_owner_created ON citadel.files (owner_id, created_at DESC, id DESC);
CREATE INDEX files_created ON citadel.files (created_at DESC, id DESC);

-- Files are never hard-deleted by the application: deletion is a state, so the audit trail keeps its targets.
GRANT SELECT, INSERT, UPDATE ON citadel.files TO citadel_app;
GRANT SELECT ON citadel.files TO citadel_readonly;
