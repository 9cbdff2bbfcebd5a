"""Cadenza interpreters."""

from __future__ import annotations
