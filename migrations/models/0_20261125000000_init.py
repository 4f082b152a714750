from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "tasks" (
    "id" UUID NOT NULL PRIMARY KEY,
    "title" VARCHAR(200) NOT NULL,
    "description" TEXT,
    "status" VARCHAR(16) NOT NULL DEFAULT 'TODO',
    "priority" SMALLINT NOT NULL DEFAULT 2,
    "due_date" TIMESTAMPTZ,
    "assignee_id" VARCHAR(24),
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_tasks_status_e45f44" ON "tasks" ("status", "priority");
CREATE INDEX IF NOT EXISTS "idx_tasks_assigne_1fb53f" ON "tasks" ("assignee_id");
CREATE INDEX IF NOT EXISTS "idx_tasks_created_56a793" ON "tasks" ("created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_tasks_updated_9a9606" ON "tasks" ("updated_at", "id");
CREATE INDEX IF NOT EXISTS "idx_tasks_due_dat_7df8cf" ON "tasks" ("due_date", "id");
CREATE INDEX IF NOT EXISTS "idx_tasks_priorit_a4da34" ON "tasks" ("priority", "id");
CREATE INDEX IF NOT EXISTS "idx_tasks_title_e1379c" ON "tasks" ("title", "id");
COMMENT ON COLUMN "tasks"."status" IS 'TODO: TODO\nIN_PROGRESS: IN_PROGRESS\nCOMPLETED: COMPLETED\nCANCELLED: CANCELLED';
COMMENT ON COLUMN "tasks"."priority" IS 'LOW: 1\nMEDIUM: 2\nHIGH: 3';
CREATE TABLE IF NOT EXISTS "tags" (
    "id" UUID NOT NULL PRIMARY KEY,
    "name" VARCHAR(50) NOT NULL,
    "color" VARCHAR(7) NOT NULL
);
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS "task_tags" (
    "task_id" UUID NOT NULL REFERENCES "tasks" ("id") ON DELETE CASCADE,
    "tag_id" UUID NOT NULL REFERENCES "tags" ("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS "uidx_task_tags_task_id_4e2287" ON "task_tags" ("task_id", "tag_id");
-- Hand-written below: what aerich does not model (checked by tests/tasks/test_schema_constraints.py).
ALTER TABLE "task_tags" ADD CONSTRAINT "task_tags_pkey" PRIMARY KEY ("task_id", "tag_id");
CREATE INDEX IF NOT EXISTS "idx_task_tags_tag_id" ON "task_tags" ("tag_id");
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_status_check"
    CHECK ("status" IN ('TODO', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED'));
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_priority_check" CHECK ("priority" BETWEEN 1 AND 3);
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_title_check" CHECK (char_length(btrim("title")) BETWEEN 1 AND 200);
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_description_check" CHECK (char_length("description") <= 10000);
ALTER TABLE "tags" ADD CONSTRAINT "tags_color_check" CHECK ("color" ~ '^#[0-9a-fA-F]{6}$');
ALTER TABLE "tags" ADD CONSTRAINT "tags_name_check" CHECK (char_length(btrim("name")) BETWEEN 1 AND 50);
CREATE UNIQUE INDEX IF NOT EXISTS "uidx_tags_name_lower" ON "tags" (lower("name"));
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS "idx_tasks_title_trgm" ON "tasks" USING gin ("title" gin_trgm_ops);
CREATE INDEX IF NOT EXISTS "idx_tasks_description_trgm" ON "tasks" USING gin ("description" gin_trgm_ops);
CREATE OR REPLACE FUNCTION taskboard_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Callers cannot set updated_at: every UPDATE stamps it.
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER "tasks_touch_updated_at" BEFORE UPDATE ON "tasks"
    FOR EACH ROW EXECUTE FUNCTION taskboard_touch_updated_at();"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "task_tags";
        DROP TABLE IF EXISTS "tasks";
        DROP TABLE IF EXISTS "tags";
        DROP FUNCTION IF EXISTS taskboard_touch_updated_at();"""


MODELS_STATE = (
    "eJztWW1v2zYQ/iuCPqVAZ9SKXwpjGKDaWqLBloJYWYsmg8BItCxYIl2JamJk+e8jqfc318"
    "7i1jDyxZaeuxPJ58g78vgk+tiGXtgxQLgSR8KTiIAP6UMJfy+IYL3OUQYQcO9xRUI1OALu"
    "QxIAi1BwAbwQUsiGoRW4a+JiRFEUeR4DsUUVXeTkUITcbxE0CXYgWcKACm7/obCLbPgIQ/"
    "Z6K4YEkIg3tA5cHLhkI1KdWxGEoesgCE3XjgErgIBA2wSEKadotLYbUJu2yvAiln2+gBGX"
    "eJkS69p6ZS5c6NklzqiQijhuks2aYzc36uRPrsmGfm9a2It8lGuvN2SJUaYeRa7dYTZM5k"
    "AEA9brAqWMsYT6FIrZowAJIpjRZueADRcg8phjxN8XEbKYPwTq0Y6FfR+jjmuHHdbw8I+k"
    "kwUD09R0w5wrhmmKe3jUwojNBhcR5r6n5/i7OTUcFVkD40v5+ux88I6TgUPiBFzIiROfuS"
    "EgIDblUyHnO/NKmfLxEgTNlGcGFdZpV1/CdwrkhOcTPyUwpegApIo+eDQ9iByypK/Shw9b"
    "WP5bvuZEUy3ONKYrNV6/WiKSYhljPGe42LMazwZ8JM08V8xexHYyd4+F7C3cGsoXg33ZD8"
    "NvXpHSs5n8hbPtbxLJVNcuUvWCC8ZT/VOF+Tzc1Se3giKfE6/SLgJkwZoDCsHyp8100dAn"
    "ej2AZGiJdw6PBPZ7h1TNvLrWL66V+XwkFF7u0FifXU0VQ5mMhOyRorI2VqZTjqaP4guWTH"
    "eww4rpDloXDBOVvVbMHWW/qYj82G1F84rj6AgO5Tip6jOp7q6p/pnydYdmykS9mVGVO3Sp"
    "XlyOhPMdiXdYb347l4aDj1TKO8tehls8MJ/J06mqGdWYVMjZZY4nFCWuD1uCUsGuQq6dGH"
    "bSh9OKT+pMmRvy7KoUpCayoTCJVApQKXpWnfXZR4TPqnEpsFfhq64p1bSd6RlfRdYnEBFs"
    "IvxgArvISQqnUMnDxS3dHtm9YnYKWaeS4nu7ZPhee4LvVeNVea+8z2oqW77Cenq93ZWGH8"
    "7evS2l+DxROvbs4+Cy5ZuDj9TB9DwOX+bgsuVbRjw2L7Myw2JVOPgy4B5YqwcQ2GZNgiXc"
    "plsX+ZLffKIGTsOZYwbQxsDst7Z9rUybrGrkHKZ+cfjpkqN5+3xUZq0yxscYQI+HyZzBpB"
    "y2wAEnfwU3CbPJviRzSyYJV4mILAMcOcsMTd1BGY5XK98AyfOxPOHTzKwxzGeNDxBwOMaG"
    "+vy+1OfGIp/zoxqfc/gS31tZ7UjKavx/j313qn+CRbX+LjW1fntJrV+rqFHacLAPu5nBCd"
    "K77fSfsjtsJXfIuP01WTKN8f83TcaXKyeeJ+NB1hOl05wns2xYT5TOa+RJ1tntaVKGgWst"
    "mzJlItmaLEGuczTpUkUtlfrGbNlQa0w8fLSzMqkvSt3esPfxfNDLiowZsi3WpEXG9pz4HQ"
    "Zh4yVIe+AumJxg6Jb6/V2KUf1+ezWKycrJkS2qPRhO1E+Q3e5Ol3ndLZd53fplHm2RQNRQ"
    "J/hrrmttm4/MpFogcC0i/Ct4bniwe4lfUxtgZGy/zate3FV22OwDn37qzqQhmT3/B6KOzZ"
    "U="
)
