"""The dashboard: server-rendered pages over the jobs and runs (docs/design.md, Dashboard)."""
