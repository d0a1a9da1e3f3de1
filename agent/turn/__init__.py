"""End-of-turn: detectors that judge a pause, and the controller that gates them on finals."""
