"""Built-in funder-format plugins (registered through the ``parcours`` entry points)."""
