"""Secret values: marked in the input, plain for the workflow, masked on display."""

from __future__ import annotations

from cadenza.model.secrets import MASK, mask, secrets_at, unwrap_secrets


def test_marked_values_are_unwrapped_and_their_places_kept() -> None:
    given = {
        "user": "ada",
        "password": {"$secret": "hunter2"},
        "keys": [{"$secret": "k-1"}, "public"],
        "nested": {"token": {"$secret": 12345}},
    }
    plain, paths = unwrap_secrets(given)
    assert plain == {
        "user": "ada",
        "password": "hunter2",
        "keys": ["k-1", "public"],
        "nested": {"token": 12345},
    }
    assert paths == [("password",), ("keys", 0), ("nested", "token")]
    assert secrets_at(plain, paths) == ["hunter2", "12345", "k-1"]  # longest first
    # A mark among other keys is an ordinary object, not a secret.
    assert unwrap_secrets({"$secret": "x", "other": 1}) == ({"$secret": "x", "other": 1}, [])


def test_secrets_are_masked_wherever_they_appear() -> None:
    secrets = ["hunter2", "12345"]
    shown = mask(
        {
            "stdout": "logged in with hunter2 ok",
            "hunter2": [12345, 123456, True, None, "12345"],
            "n": 7,
        },
        secrets,
    )
    assert shown == {
        "stdout": f"logged in with {MASK} ok",
        MASK: [MASK, 123456, True, None, MASK],
        "n": 7,
    }
    assert mask("nothing secret", []) == "nothing secret"
