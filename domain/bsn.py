"""The burgerservicenummer (BSN) and its eleven-test (elfproef)."""

from __future__ import annotations


def is_valid_bsn(value: str) -> bool:
    """Nine digits whose weighted sum (9..2, and -1 for the last) is divisible by 11.

    An eight-digit number is read with a leading zero, as the BSN rules allow; an
    all-zero number passes the arithmetic but is not a BSN.
    """
    digits = value.strip()
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0
