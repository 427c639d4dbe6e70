"""Work orders: their rules, creation, reading and changes, tables and API models."""
