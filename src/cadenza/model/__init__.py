"""The pure vocabulary of Cadenza: events, commands, statuses, errors, retry policy.

Nothing here performs I/O, reads a clock or draws random numbers.
"""

from __future__ import annotations
