"""Sensing: things (devices), datastreams, observations; ingestion; rollups; SensorThings."""
