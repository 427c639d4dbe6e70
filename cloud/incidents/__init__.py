"""Building incidents: many devices lost at once; their table and API models."""
