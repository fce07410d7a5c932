-- The hourly sweep looks for uploads still `uploading` past their lifetime. Few rows are ever uploading, so a
-- partial index keeps that query from walking every file ever uploaded.
CREATE INDEX files_uploading_created ON citadel.files (created_at) WHERE state = 'uploading';
