"""SIRET numbers: 14 digits whose last is a Luhn check digit.

Source: INSEE, the SIREN is 9 digits with a Luhn key and the SIRET adds the 5-digit NIC whose
last digit keys the 14 digits with the same algorithm
(https://www.insee.fr/fr/metadonnees/definition/c1841). La Poste's establishments (SIREN
356 000 000) are keyed differently: their digits add up to a multiple of 5.
"""

from __future__ import annotations

LA_POSTE = "356000000"


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def normalise(value: str) -> str:
    """The SIRET without the spaces (plain or non-breaking) it is often printed with."""
    return "".join(value.split()).replace("\u00a0", "")


def siret_valid(value: str) -> bool:
    """14 digits and a valid check digit (La Poste's establishments: digit sum divisible by 5)."""
    if len(value) != 14 or not value.isdigit():
        return False
    if value.startswith(LA_POSTE):
        return sum(int(c) for c in value) % 5 == 0
    return luhn_ok(value)


def check_siret(value: str) -> str:
    """``value`` normalised, or a ValueError saying what is wrong with it."""
    siret = normalise(value)
    if len(siret) != 14 or not siret.isdigit():
        raise ValueError(f"a SIRET is 14 digits, got {len(siret)} character(s)" if siret.isdigit()
                         else "a SIRET is 14 digits (spaces allowed), got other characters")
    if not siret_valid(siret):
        raise ValueError("invalid SIRET: its check digit (Luhn) does not match")
    return siret
