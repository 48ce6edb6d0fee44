"""Notifications to other systems: webhooks signed with HMAC, retried with back-off."""
