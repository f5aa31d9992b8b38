"""Tables and figures, and the paper's reported values beside ours."""

from .tables import to_markdown, write_table

__all__ = ["to_markdown", "write_table"]
