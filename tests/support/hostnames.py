"""Host names written the ways a hostile or careless client may write them."""

# U+3002, which UTS #46 maps to a full stop between labels.
IDEOGRAPHIC_STOP = "\u3002"


def fullwidth(text: str) -> str:
    """``text`` with its ASCII letters and digits in their fullwidth forms (U+FF01...)."""
    return "".join(chr(ord(char) + 0xFEE0) if char.isascii() and char.isalnum() else char
                   for char in text)
