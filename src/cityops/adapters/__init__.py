"""Edges that speak other systems' protocols: MQTT, webhooks, SensorThings."""
