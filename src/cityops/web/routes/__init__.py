"""HTTP routes, one module per concern; each route declares the permission it needs."""
