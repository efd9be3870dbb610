"""The Kanban bridge: pipeline events from SQS to one card per feature on a board."""
