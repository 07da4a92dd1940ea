"""Built-in connector plugins. Each sub-package is registered through the ``parcours`` entry points."""
