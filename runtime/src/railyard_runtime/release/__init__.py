"""Release train (seed 002): the manifest, its schema, and how it expands into jobs."""
