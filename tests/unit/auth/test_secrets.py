"""Unit tests of password hashing, password rules, tokens and API keys."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.auth.secrets import (
    API_KEY_PREFIX,
    MIN_PASSWORD_LENGTH,
    PasswordHasher,
    check_password_rules,
    generate_password,
    hash_token,
    new_api_key,
    new_token,
    split_api_key,
)
from cityops.kernel.errors import ValidationFailed

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def fast_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024)


# --- PasswordHasher -------------------------------------------------------------------------


def test_hash_then_verify(fast_hasher: PasswordHasher) -> None:
    stored = fast_hasher.hash("correct-horse-battery")
    assert stored.startswith("$argon2id$")
    assert "correct-horse-battery" not in stored
    assert fast_hasher.verify(stored, "correct-horse-battery")


def test_hashes_are_salted(fast_hasher: PasswordHasher) -> None:
    first = fast_hasher.hash("correct-horse-battery")
    second = fast_hasher.hash("correct-horse-battery")
    assert first != second
    assert fast_hasher.verify(first, "correct-horse-battery")
    assert fast_hasher.verify(second, "correct-horse-battery")


@pytest.mark.parametrize(
    "attempt",
    ["wrong-horse-battery", "", "Correct-horse-battery", "correct-horse-battery ", "correct"],
)
def test_wrong_password_fails(fast_hasher: PasswordHasher, attempt: str) -> None:
    stored = fast_hasher.hash("correct-horse-battery")
    assert fast_hasher.verify(stored, attempt) is False


@pytest.mark.parametrize("password", ["", "x", "correct-horse-battery"])
def test_missing_hash_never_verifies(fast_hasher: PasswordHasher, password: str) -> None:
    assert fast_hasher.verify(None, password) is False
    assert fast_hasher.verify("", password) is False


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=4$",
        "$argon2id$v=19$m=1024,t=1,p=4$c2FsdHNhbHQ$aGFzaA",
        "$2b$12$abcdefghijklmnopqrstuuM7QxT4E7Y1y5g5b8gqXWzq0kZr7lO1e",  # bcrypt
        "pbkdf2_sha256$600000$salt$hash",
        "\x00",
        "$argon2id$v=19$m=1024,t=1,p=4$sälz$häsh",  # a corrupted, non-ASCII column value
        "密码散列",
    ],
    ids=[
        "word",
        "argon2-prefix",
        "no-salt",
        "short-salt",
        "bcrypt",
        "django",
        "nul",
        "non-ascii-argon2",
        "cjk",
    ],
)
def test_garbage_hash_never_verifies(fast_hasher: PasswordHasher, garbage: str) -> None:
    assert fast_hasher.verify(garbage, "correct-horse-battery") is False


@settings(max_examples=100)
@given(garbage=st.text(), password=st.text(max_size=20))
def test_arbitrary_stored_hash_returns_false_and_never_raises(
    fast_hasher: PasswordHasher, garbage: str, password: str
) -> None:
    assert fast_hasher.verify(garbage, password) is False


@settings(max_examples=15, deadline=None)
@given(password=st.text(max_size=40))
def test_any_password_round_trips(fast_hasher: PasswordHasher, password: str) -> None:
    stored = fast_hasher.hash(password)
    assert fast_hasher.verify(stored, password)
    assert not fast_hasher.verify(stored, password + "x")


def test_needs_rehash_after_parameters_change(fast_hasher: PasswordHasher) -> None:
    stored = fast_hasher.hash("correct-horse-battery")
    assert not fast_hasher.needs_rehash(stored)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048)
    assert stronger.needs_rehash(stored)
    # An old hash still verifies with the new parameters.
    assert stronger.verify(stored, "correct-horse-battery")


# --- password rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("correct-horse-battery", "alice"),
        ("abcdabcdab", "alice"),  # exactly the minimum length and variety
        ("城市运行管理服务平台", "alice"),
        ("correct-horse-battery", ""),
    ],
)
def test_acceptable_passwords_pass(password: str, username: str) -> None:
    check_password_rules(password, username)


@pytest.mark.parametrize("password", ["", "a", "Abc123!", "abcdefghi", "Tr0ub4dor"])
def test_short_passwords_fail_min_length(password: str) -> None:
    assert len(password) < MIN_PASSWORD_LENGTH
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules(password, "alice")
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("password", "min_length")
    assert str(MIN_PASSWORD_LENGTH) in issue.message


def test_min_length_is_ten() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    check_password_rules("abcdefghij", "alice")
    with pytest.raises(ValidationFailed):
        check_password_rules("abcdefghi", "alice")


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaaaa", "abababababab", "abcabcabcabc", "1111111111111111", "aabbccaabbcc"]
)
def test_low_variety_passwords_fail(password: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules(password, "alice")
    assert caught.value.issues[0].rule == "variety"


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("alice-2026-secure", "alice"),
        ("my-ALICE-password", "alice"),
        ("my-alice-password", "Alice"),
        ("xx-zhang.wei-yy", "zhang.wei"),
    ],
)
def test_password_containing_username_fails(password: str, username: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules(password, username)
    assert caught.value.issues[0].rule == "not_username"


def test_rules_are_checked_in_order() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules("alice", "alice")  # short and contains the username
    assert caught.value.issues[0].rule == "min_length"
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules("aaaaaaaaaaaa", "aaa")  # low variety and contains the username
    assert caught.value.issues[0].rule == "variety"


def test_password_rule_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_password_rules("short", "alice", field="new_password")
    assert caught.value.issues[0].field == "new_password"


@given(password=st.text(max_size=24), username=st.text(max_size=8))
def test_password_rules_raise_only_validation_failed(password: str, username: str) -> None:
    try:
        check_password_rules(password, username)
    except ValidationFailed as error:
        rule = error.issues[0].rule
        assert rule in {"min_length", "variety", "not_username"}
        if rule == "min_length":
            assert len(password) < MIN_PASSWORD_LENGTH
        elif rule == "variety":
            assert len(set(password)) < 4
        else:
            assert username
            assert username.lower() in password.lower()
        return
    assert len(password) >= MIN_PASSWORD_LENGTH
    assert len(set(password)) >= 4
    assert not username or username.lower() not in password.lower()


def test_generated_passwords_pass_the_rules() -> None:
    passwords = [generate_password() for _ in range(200)]
    assert len(set(passwords)) == len(passwords)
    for password in passwords:
        assert len(password) >= MIN_PASSWORD_LENGTH
        check_password_rules(password, "zhang.wei")  # '.' never occurs in a generated password


# --- tokens ---------------------------------------------------------------------------------


def test_new_tokens_are_long_and_unique() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)


def test_hash_token_known_vector() -> None:
    assert hash_token("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_hash_token_is_deterministic_and_hides_the_token() -> None:
    token = new_token()
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != token
    assert token not in hash_token(token)
    assert hash_token(token) != hash_token(new_token())


@given(st.text())
def test_hash_token_properties(token: str) -> None:
    digest = hash_token(token)
    assert HEX64.fullmatch(digest)
    assert digest == hash_token(token)
    assert digest != token


@given(st.text(), st.text())
def test_hash_token_distinguishes_tokens(first: str, second: str) -> None:
    assert (hash_token(first) == hash_token(second)) is (first == second)


# --- API keys -------------------------------------------------------------------------------


def test_new_api_key_round_trips() -> None:
    keys = [new_api_key() for _ in range(50)]
    assert len({full for _, full in keys}) == 50
    for prefix, full in keys:
        assert re.fullmatch(r"[0-9a-f]{8}", prefix)
        assert full.startswith(f"{API_KEY_PREFIX}_{prefix}_")
        assert len(full) > len(f"{API_KEY_PREFIX}_{prefix}_") + 40
        assert split_api_key(full) == prefix


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cok",
        "cok_",
        "cok__",
        "cok_12345678",
        "cok_1234567_secret",
        "cok_123456789_secret",
        "xyz_12345678_secret",
        "COK_12345678_secret",
        "cok-12345678-secret",
        "_cok_12345678_secret",
        " cok_12345678_secret",
        "12345678",
        "Bearer cok_12345678_secret",
    ],
)
def test_split_rejects_malformed_keys(text: str) -> None:
    assert split_api_key(text) is None


@given(
    st.text(st.characters(exclude_characters="_"), min_size=8, max_size=8),
    st.text(),
)
def test_split_returns_the_prefix_of_any_well_formed_key(prefix: str, secret: str) -> None:
    assert split_api_key(f"{API_KEY_PREFIX}_{prefix}_{secret}") == prefix


@given(st.text())
def test_split_of_arbitrary_text_never_raises(text: str) -> None:
    prefix = split_api_key(text)
    if prefix is not None:
        assert len(prefix) == 8
        assert "_" not in prefix
        assert text.startswith(f"{API_KEY_PREFIX}_{prefix}_")
