"""Replay checks for users' tests: see ``cadenza.interpreters.replay``."""

from __future__ import annotations

from cadenza.interpreters.replay import check_replay, replay_state

__all__ = ["check_replay", "replay_state"]
