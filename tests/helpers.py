"""Small builders shared by the tests."""

from warble.data.schema import posts_to_batch, validate_post


def batch_of(texts, **columns):
    """A POST_SCHEMA batch of minimal valid posts with these texts; `columns` gives per-post values of other fields
    (e.g. `lang=[...]`, `source=[...]`)."""
    rows = ({"id": str(i), "author_id": "a", "text": t, "origin": "test", **{k: v[i] for k, v in columns.items()}}
            for i, t in enumerate(texts))
    return posts_to_batch(validate_post(r) for r in rows)
