"""Alarms: rules firing on equipment, who has seen them; their table and API models."""
