"""Release train: the manifest, its schema, and how it expands into jobs."""
