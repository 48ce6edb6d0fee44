"""Standard-library-only primitives shared by every domain: clock, errors, events, bus, context."""
