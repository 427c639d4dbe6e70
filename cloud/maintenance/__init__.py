"""Maintenance mode: equipment, or a whole building, in maintenance for a window of time.

- `model`: the windows and their audit trail;
- `board`: the windows that matter now, in memory, for the fault path's cheap lookup;
- `window`: the pure rules of a window (bounds, times, who may);
- `service`: creating, listing and ending windows, and holding alarms while one runs;
- `settle`: the end of a window: alarms still active go the normal way, once;
- `pm`: PM jobs whose plan puts their equipment in maintenance while they are in progress;
- `runner`: the loop that refreshes the board, follows the PM jobs and settles ended windows.

docs/workorders.md ("Maintenance mode") describes the behaviour.
"""
