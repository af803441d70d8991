"""The one exception the scorer raises for the person running dbt."""


class ScoringError(Exception):
    """A problem with the input or the model, worded for the person running dbt."""
