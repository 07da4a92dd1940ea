"""File profiles: what varies from one funder file to another, kept in YAML.

A profile names the columns of a funder's files (in order, with their header labels), the CSV
dialect (separator, encoding, line ending, quoting), the XLSX options, the date and decimal
formats, the words for yes/no, the labels of coded values and the file names. Built-in profiles
live in each format package's ``profiles/`` folder; an export may point at its own file instead
(``profile: path/to/profile.yaml``). Profiles are validated like the rest of the configuration
(:func:`hub.config.load_yaml_model`): an unknown key or column is an error naming the profile
file and line.

The kit, for funder-format plugins:

* :mod:`hub.profiles.loading` — a built-in name or a path, loading (cached, file:line errors),
  :class:`ProfileOption` for a format's ``Config``;
* :mod:`hub.profiles.dialect` — :class:`CsvDialect` (separator, line ending, quoting, encoding),
  encoding and sheet-name checks; :mod:`hub.profiles.files` — file-name templates;
  :mod:`hub.profiles.labels` — labels of coded values;
* :mod:`hub.profiles.delimited` — :class:`FileProfile`, a one-table delimited file (BPF, CPF);
* :mod:`hub.profiles.vocabulary` and :mod:`hub.profiles.enrolments` — tables about enrolments
  (France Travail, Région): the column vocabulary, columns, value formats, and the facts and
  figures of an enrolment for a period.
"""

from hub.profiles.delimited import FileProfile, check_file_name, column_model
from hub.profiles.dialect import CsvDialect, check_encoding, check_separator, check_sheet_name
from hub.profiles.files import check_file_template, template_fields
from hub.profiles.labels import check_label_keys, unknown_name
from hub.profiles.loading import ProfileOption, builtin_profiles, load_profile, profile_option, profile_path
from hub.profiles.vocabulary import dedupe

__all__ = [
    "CsvDialect", "FileProfile", "ProfileOption", "builtin_profiles", "check_encoding", "check_file_name",
    "check_file_template", "check_label_keys", "check_separator", "check_sheet_name", "column_model", "dedupe",
    "load_profile", "profile_option", "profile_path", "template_fields", "unknown_name",
]
