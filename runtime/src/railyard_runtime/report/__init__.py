"""Reports drawn from pipeline events."""
