"""An example catalog plugin for the scheduler."""
