"""``ste-async view``: a local web page over a run directory (see :mod:`.app`)."""

__all__ = ()
