"""Text from users on a terminal: never read as Rich markup, and no control characters.

A generator's name, a table's, an error, who asked: each reaches the terminal as plain text
whose control characters (escape sequences, bells, bidirectional overrides) are shown as
escapes such as `\\x1b`, so no one can move the cursor, retitle the window or hide text.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when a panel is drawn: `ffwd stop` never loads it
    from rich.text import Text

_BIDI = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_SHOWN = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_SHOWN |= {c: f"\\u{c:04x}" for c in _BIDI}


def clean(text: object) -> str:
    """`text` as a string whose control characters are written as escapes."""
    return str(text).translate(_SHOWN)


def plain(text: object, style: str = "") -> "Text":
    """`text` cleaned, as a Rich Text: printed as it reads, never parsed as markup."""
    from rich.text import Text

    return Text(clean(text), style=style)
