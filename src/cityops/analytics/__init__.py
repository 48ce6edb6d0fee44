"""Pure computations over readings: air quality (AQI), noise, water and traffic indices."""
