"""Alerts: rules over readings, alert lifecycle, warning levels I–IV, the alert → case policy."""
