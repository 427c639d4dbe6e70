"""Alarms: rules firing on equipment, alarms about the service itself (`system`), who has
seen them; their tables and API models."""
