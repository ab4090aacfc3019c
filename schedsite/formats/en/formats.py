"""English formats: a date-time to the second with its zone, as the admin's own columns
show it (jobs/display.py), so a field Django renders by itself reads the same."""

from jobs.display import DATETIME_FORMAT  # noqa: F401  (Django reads it from here)
