"""Who the Commerce order is for: the buyer's name split for Commerce, or placeholders."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict

PLACEHOLDER_FIRSTNAME = "Amazon"
PLACEHOLDER_LASTNAME = "Customer"
PLACEHOLDER_EMAIL_DOMAIN = "marketplace.amazon.invalid"


class Buyer(BaseModel):
    """The buyer as Commerce will know them. `placeholder` marks invented data."""

    model_config = ConfigDict(defer_build=True)  # built on first use, as domain.models
    email: str
    firstname: str
    lastname: str
    placeholder_email: bool = False


def split_name(full_name: str | None) -> tuple[str, str]:
    """Split an Amazon buyer name into Commerce's first and last name.

    The first word is the first name and the rest the last name ("Ana de Souza" -> "Ana",
    "de Souza"). A single word fills both, since Commerce requires a last name. Accents are kept
    (normalised to NFC); no name at all gives the placeholder "Amazon Customer".
    """
    words = unicodedata.normalize("NFC", full_name or "").split()
    if not words:
        return PLACEHOLDER_FIRSTNAME, PLACEHOLDER_LASTNAME
    if len(words) == 1:
        return words[0], words[0]
    return words[0], " ".join(words[1:])


def buyer_for(amazon_order_id: str, name: str | None, email: str | None) -> Buyer:
    """The Commerce buyer for an Amazon order, with placeholders where Amazon gave nothing.

    Some FBA orders carry no buyer name or email (North American FBA since February 2024); the
    Adobe extension fills placeholder values so that Commerce validation passes, and so do we.
    """
    first, last = split_name(name)
    if email and email.strip():
        return Buyer(email=email.strip().lower(), firstname=first, lastname=last)
    return Buyer(
        email=f"{amazon_order_id}@{PLACEHOLDER_EMAIL_DOMAIN}",
        firstname=first,
        lastname=last,
        placeholder_email=True,
    )
