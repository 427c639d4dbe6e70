"""On-call duty: per team, a rota of shifts with overrides and swaps, and who is on call."""
