"""The States front end: Amazon States Language definitions on Cadenza's history."""

from __future__ import annotations
