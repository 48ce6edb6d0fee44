"""Unit tests of the adapters' pure parts."""
