"""Users, their tokens and teams; their tables and API models."""
