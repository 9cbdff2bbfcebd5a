"""Cadenza interpreters orquesta."""

from __future__ import annotations
