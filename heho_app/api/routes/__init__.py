"""One router per resource; app.py includes them in order (the fallback last)."""
