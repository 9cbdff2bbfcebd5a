"""Write a SAM state machine's definition with its DefinitionSubstitutions filled in.

    python render_definition.py statemachine/orders.asl.json substitutions.json > Orders.asl.json

Only ``${Name}`` placeholders are replaced; ``$.path`` and ``$$.Context``
references of the definition are left alone.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

text = Path(sys.argv[1]).read_text(encoding="utf-8")
values = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))


def _value(match: re.Match[str]) -> str:
    name = match.group(1)
    if name not in values:
        sys.exit(f"no value for ${{{name}}} in {sys.argv[2]}")
    return str(values[name])


sys.stdout.write(re.sub(r"\$\{(\w+)\}", _value, text))
