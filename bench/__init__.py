"""`make bench`: native scoring against in-database scoring, measured side by side."""
