"""Exploitation: turning explored trials into training data and demonstrations."""

__all__: tuple[str, ...] = ()  # the parts are imported from their modules (runner, export, ...)
