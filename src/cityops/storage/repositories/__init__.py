"""SQL implementations of the domain repository ports."""
