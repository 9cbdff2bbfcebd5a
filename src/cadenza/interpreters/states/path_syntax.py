"""How Step Functions reads the text of a JSONPath before it evaluates it.

AWS's JSONPath (Jayway's) is more lenient than ``jsonpath-ng`` in two ways
that definitions rely on:

* trailing whitespace is trimmed: ``"$.a "`` is ``$.a``;
* a ``.`` directly before a bracket is dropped: ``$.[0]`` is ``$[0]`` and
  ``$.items.[?(@.v > 0)]`` is ``$.items[?(@.v > 0)]`` (``..[`` stays a deep scan).

Validation and the runtime both read a path through :func:`aws_path`, so a
path that passes validation is the path that runs.
"""

from __future__ import annotations

import functools

__all__ = ["aws_path"]


@functools.lru_cache(maxsize=4096)
def aws_path(text: str) -> str:
    """``text`` as AWS reads a path: trailing whitespace trimmed, ``.[`` as ``[``."""
    text = text.rstrip()
    if ".[" not in text:
        return text
    out: list[str] = []
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            out.append(char)
            if char == "\\" and index + 1 < len(text):
                out.append(text[index + 1])
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        elif (
            char == "."
            and text.startswith("[", index + 1)
            and not (index > 0 and text[index - 1] == ".")
        ):
            pass  # "x.[" is "x["
        else:
            out.append(char)
        index += 1
    return "".join(out)
