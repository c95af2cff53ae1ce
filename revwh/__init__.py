"""revwh: the revenue analytics warehouse."""

__version__ = "0.1.0"
