"""Occupants' repair requests and the service desk (docs/requests.md)."""
