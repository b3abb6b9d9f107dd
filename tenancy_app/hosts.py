"""Host names of tenant domains: the one form they are stored in, and why others are refused.

A request reaches a tenant by its ``Host`` header, which Django accepts only as ASCII
letters, digits, dots and hyphens (an internationalised name travels in its IDNA
``xn--`` form), and which the resolver lower-cases and strips of its port and trailing
dot (:func:`tenancy_app.resolvers.base.request_host`). So a domain is kept in exactly
that form: anything else could never be served, or would be served under another name.

:func:`normalize_host_name` is pure (no settings, no SQL); the domain model adds the
project's rules on top (``DomainBase.normalize_domain``: names in ``PUBLIC_DOMAINS``).
"""

from __future__ import annotations

import re
import unicodedata

from .exceptions import InvalidHostName

MAX_HOST_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_ASCII_ALLOWED_RE = re.compile(r"[a-z0-9.-]*\Z")


def _refuse_characters(name: str) -> None:
    """The characters a user is most likely to type by mistake, each with its own reason."""
    if "://" in name or "/" in name:
        raise InvalidHostName(name, "give the host name alone, without scheme or path")
    if ":" in name or "[" in name:
        raise InvalidHostName(name, "it holds a port (or is an IPv6 address): a domain has no port")
    if "*" in name:
        raise InvalidHostName(name, "wildcards are not supported: register each host name")
    if "_" in name:
        raise InvalidHostName(name, "host names cannot hold underscores (use a hyphen)")
    for char in name:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InvalidHostName(name, f"it holds the character {char!r}")
        if char.isascii() and not (char.isalnum() or char in ".-"):
            raise InvalidHostName(name, f"host names cannot hold {char!r}")


def _ascii_label(label: str, name: str) -> str:
    """``label`` (lower case) in its IDNA ASCII form, refusing what IDNA would change."""
    if label.isascii():
        if label.startswith("xn--"):
            try:
                decoded = label.encode().decode("idna")
            except UnicodeError:
                raise InvalidHostName(name, f"{label!r} is not a valid IDNA label") from None
            if decoded.encode("idna").decode() != label:
                raise InvalidHostName(name, f"{label!r} is not a valid IDNA label")
        return label
    composed = unicodedata.normalize("NFC", label)
    try:
        encoded = composed.encode("idna").decode()
        decoded = encoded.encode().decode("idna")
    except UnicodeError:
        raise InvalidHostName(name, f"{label!r} is not a valid internationalised name") from None
    if decoded != composed:
        raise InvalidHostName(
            name,
            f"IDNA would change {label!r} into {decoded!r}: give the name as it is served",
        )
    return encoded


def normalize_host_name(value: object) -> str:
    """``value`` in the form requests carry: lower case, IDNA (``xn--``), no trailing dot.

    Raises :class:`~tenancy_app.exceptions.InvalidHostName` (a ``ValidationError``) with
    the reason for anything no request can carry: a port, a scheme or path, spaces,
    quotes, ``;``, underscores, wildcards, empty or over-long labels, labels starting or
    ending with a hyphen, and non-ASCII names that have no IDNA form.
    """
    if not isinstance(value, str) or not value:
        raise InvalidHostName(value, "it must be a non-empty string")
    name = value.lower()
    _refuse_characters(name)
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if any(not label for label in labels):
        raise InvalidHostName(value, "it has an empty label (two dots in a row, or a leading dot)")
    labels = [_ascii_label(label, value) for label in labels]
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidHostName(
                value, f"the label {label[:20]!r}... is longer than {MAX_LABEL_LENGTH} characters"
            )
        if not _LABEL_RE.match(label):
            raise InvalidHostName(value, f"the label {label!r} starts or ends with a hyphen")
    normal = ".".join(labels)
    assert _ASCII_ALLOWED_RE.match(normal)
    if len(normal) > MAX_HOST_NAME_LENGTH:
        raise InvalidHostName(value, f"it is longer than {MAX_HOST_NAME_LENGTH} characters")
    return normal
