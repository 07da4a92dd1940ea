"""Parcours Hub: the core. It knows no particular LMS, CRM or funder; plugins bring those."""

from hub.hookspecs import hookimpl

__all__ = ["hookimpl"]
__version__ = "0.1.0"
