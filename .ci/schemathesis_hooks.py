"""Schemathesis hooks for .ci/schemathesis.sh: how each fuzzing pass signs in.

Loaded through SCHEMATHESIS_HOOKS. Every request is sent with a bearer token of the identity the
pass names in NEXUS_FUZZ_USERNAME / NEXUS_FUZZ_PASSWORD, obtained by signing in through the API
itself. Schemathesis re-runs `get` (and replays the request once) whenever an answer is 401, so a
session the fuzzer itself ended (logout, a password change, a deactivation) is replaced by a new
one instead of turning every later case into a 401.

NEXUS_FUZZ_FRESH_LOGIN=1 signs in anew for every case. The pass that fuzzes user administration
needs it: the fuzzer may demote or deactivate the very admin it runs as. A deactivated or demoted
identity (NEXUS_FUZZ_USER_ID) is then put back, active and with NEXUS_FUZZ_ROLE, by the rescue admin
NEXUS_FUZZ_RESCUE_USERNAME / NEXUS_FUZZ_RESCUE_PASSWORD. The server never lets the last active
admin be demoted or deactivated, so of the two admins at least one always stays usable.
"""

import os

import requests
import schemathesis

BASE = os.environ["NEXUS_FUZZ_BASE_URL"]
USERNAME = os.environ["NEXUS_FUZZ_USERNAME"]
PASSWORD = os.environ["NEXUS_FUZZ_PASSWORD"]
ROLE = os.environ.get("NEXUS_FUZZ_ROLE", "admin")
RESCUE_USERNAME = os.environ.get("NEXUS_FUZZ_RESCUE_USERNAME")
RESCUE_PASSWORD = os.environ.get("NEXUS_FUZZ_RESCUE_PASSWORD")
USER_ID = os.environ.get("NEXUS_FUZZ_USER_ID")
FRESH = os.environ.get("NEXUS_FUZZ_FRESH_LOGIN") == "1"


def _login(username, password):
    """The login answer (`{access, user, ...}`), or None when the server refuses it."""
    response = requests.post(
        f"{BASE}/api/auth/login/",
        json={"username": username, "password": password},
        timeout=30,
    )
    if response.status_code != 200:
        return None
    return response.json()


def _rescue():
    """Reactivates the fuzzing identity and gives its role back, signed in as the rescue admin."""
    if not (RESCUE_USERNAME and RESCUE_PASSWORD and USER_ID):
        raise RuntimeError(f"{USERNAME} can no longer sign in and there is no rescue admin")
    rescuer = _login(RESCUE_USERNAME, RESCUE_PASSWORD)
    if rescuer is None:
        raise RuntimeError(f"neither {USERNAME} nor {RESCUE_USERNAME} can sign in")
    response = requests.patch(
        f"{BASE}/api/users/{USER_ID}/",
        json={"is_active": True, "role": ROLE},
        headers={"Authorization": f"Bearer {rescuer['access']}"},
        timeout=30,
    )
    response.raise_for_status()


def _token():
    answer = _login(USERNAME, PASSWORD)
    if answer is not None and answer["user"]["role"] == ROLE:
        return answer["access"]
    # Deactivated (login refused) or demoted: put it back, then sign in again.
    _rescue()
    answer = _login(USERNAME, PASSWORD)
    if answer is None:
        raise RuntimeError(f"{USERNAME} cannot sign in even after the rescue")
    return answer["access"]


@schemathesis.auth(refresh_interval=None if FRESH else 300)
class NexusBearer:
    def get(self, case, context):
        return _token()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
