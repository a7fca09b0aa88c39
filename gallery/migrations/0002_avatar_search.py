"""A stored search vector for avatars, filled by a trigger and indexed with GIN (PostgreSQL only).

A trigger rather than code in the services: bulk loads, the admin and raw SQL all keep it right.
Title and tags weigh more than the alt text. On SQLite (the embedded default) nothing is created
and the selectors fall back to a plain substring search.
"""

import django.contrib.postgres.search
from django.db import migrations

CREATE = [
    """
CREATE FUNCTION gallery_avatar_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(
            (SELECT string_agg(tag, ' ') FROM jsonb_array_elements_text(
                CASE WHEN jsonb_typeof(NEW.tags) = 'array' THEN NEW.tags ELSE '[]'::jsonb END) AS tag), '')), 'A')
        || setweight(to_tsvector('english', coalesce(NEW.alt, '')), 'B');
    RETURN NEW;
END
$$""",
    """CREATE TRIGGER gallery_avatar_search_update BEFORE INSERT OR UPDATE OF title, alt, tags ON gallery_avatar
    FOR EACH ROW EXECUTE FUNCTION gallery_avatar_search_update()""",
    "UPDATE gallery_avatar SET title = title",
    "CREATE INDEX gallery_avatar_search_gin ON gallery_avatar USING gin (search)",
]

DROP = [
    "DROP INDEX IF EXISTS gallery_avatar_search_gin",
    "DROP TRIGGER IF EXISTS gallery_avatar_search_update ON gallery_avatar",
    "DROP FUNCTION IF EXISTS gallery_avatar_search_update()",
]


def create_search(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement, params=None)


def drop_search(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="avatar",
            name="search",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(create_search, drop_search),
    ]
