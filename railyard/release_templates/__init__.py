"""The release WorkflowTemplates, rendered with hera (DESIGN.md §7)."""
