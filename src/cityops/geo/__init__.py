"""Geography: divisions (GB/T 2260), unit grids (单元网格), locating points, places by name."""
