"""opchat: a terminal inbox for a business's operators."""

__version__ = "0.1.0"
