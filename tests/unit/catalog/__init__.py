"""Unit tests of the catalog package."""
