"""The kind name the triggers front end shares with its interpreter.

It lives apart so that the front end, which every process that detects a
definition's kind loads, reads it without importing the interpreter.
"""

from __future__ import annotations

KIND = "triggers"
