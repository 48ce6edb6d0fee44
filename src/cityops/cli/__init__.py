"""EDGE: the ``cityops`` command line (also ``python -m cityops``)."""
